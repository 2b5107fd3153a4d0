//! The campaign engine: turns pending attempts into calls, within each campaign's rules.
//!
//! The queue is `campaign_attempts` in PostgreSQL. Every replica may run an engine: due
//! attempts are leased with `FOR UPDATE SKIP LOCKED`, and an attempt is committed as
//! `dialing` (with its call row, whose id the provider's callbacks carry) before the
//! provider is asked to place the call. After a crash, `dialing` attempts are reconciled
//! from callbacks or by asking the provider; only leases that never reached `dialing` are
//! re-queued by the reaper. All rule checks happen at dial time.

pub mod clock;
mod dispatch;
mod maintenance;
mod outcome;
mod plan;
mod queue;
pub mod rate;
pub mod retry;
mod single;
mod wave;
pub mod window;
pub mod zones;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared::token::CallTokens;
use sqlx::PgPool;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::{EngineSettings, TwilioSettings, WorkerSettings};
use crate::crypto::SecretBox;
use crate::dialer::{Dialer, ProviderAccount};

pub use clock::{Clock, ManualClock, SystemClock};
pub use outcome::{apply_call_status, apply_call_status_in, finish_attempt_for_call, StatusUpdate};
pub use queue::free_stream_slots;

/// Dialers by trunk mode (`twilio_stream`, `livekit_sip`).
pub type Dialers = HashMap<&'static str, Arc<dyn Dialer>>;

/// A placed call and the means to act on it.
#[derive(Debug, Clone)]
pub struct LiveCall {
    pub dialer: Arc<dyn Dialer>,
    pub account: ProviderAccount,
    pub provider_call_id: String,
}

/// One replica's engine.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: PgPool,
    clock: Arc<dyn Clock>,
    dialers: Dialers,
    tokens: CallTokens,
    secrets: Arc<SecretBox>,
    settings: EngineSettings,
    token_grace_sec: i64,
    heartbeat_ttl_sec: i64,
    /// The deployment's Twilio account, used by trunks without their own.
    default_account: Option<ProviderAccount>,
    /// Names this replica's leases, so the reaper and logs can tell replicas apart.
    owner: String,
}

impl Engine {
    pub fn new(
        db: PgPool,
        clock: Arc<dyn Clock>,
        dialers: Dialers,
        secrets: Arc<SecretBox>,
        settings: EngineSettings,
        workers: &WorkerSettings,
        twilio: &TwilioSettings,
    ) -> Self {
        let default_account = ProviderAccount::from_settings(twilio);
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                dialers,
                tokens: CallTokens::new(workers.token_secret.expose_secret().as_bytes()),
                secrets,
                settings,
                token_grace_sec: workers.token_grace_sec,
                heartbeat_ttl_sec: workers.heartbeat_ttl_sec,
                default_account,
                owner: format!("engine-{}", Uuid::new_v4()),
            }),
        }
    }

    /// One pass over every running campaign: lease due attempts and dial them. Returns
    /// how many calls were handed to a dialer.
    pub async fn tick(&self) -> anyhow::Result<usize> {
        dispatch::tick(&self.inner).await
    }

    /// Periodic upkeep: re-queue expired leases, reconcile stuck dials, close calls the
    /// worker never ended, complete campaigns with nothing left.
    pub async fn maintain(&self) -> anyhow::Result<()> {
        maintenance::run(&self.inner).await
    }

    /// Runs ticks and upkeep until `stop` fires. Dispatch runs on a sub-second interval;
    /// upkeep (reaper, reconciliation, settling, completion) is a cron job every 5 s.
    pub async fn run(self, stop: CancellationToken) {
        let upkeep = match self.schedule_upkeep().await {
            Ok(scheduler) => Some(scheduler),
            Err(err) => {
                tracing::error!(error = ?err, "cannot schedule engine upkeep; the engine does not run");
                return;
            }
        };
        let tick = Duration::from_millis(self.inner.settings.tick_ms.max(10));
        let mut ticks = tokio::time::interval(tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(owner = %self.inner.owner, "campaign engine started");
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticks.tick() => {
                    if let Err(err) = self.tick().await {
                        tracing::error!(error = ?err, "engine tick failed");
                    }
                }
            }
        }
        if let Some(mut scheduler) = upkeep {
            if let Err(err) = scheduler.shutdown().await {
                tracing::warn!(error = ?err, "stopping the upkeep scheduler");
            }
        }
        tracing::info!("campaign engine stopped");
    }

    async fn schedule_upkeep(&self) -> anyhow::Result<JobScheduler> {
        let scheduler = JobScheduler::new().await?;
        let engine = self.clone();
        let job = Job::new_async("*/5 * * * * *", move |_id, _scheduler| {
            let engine = engine.clone();
            Box::pin(async move {
                if let Err(err) = engine.maintain().await {
                    tracing::error!(error = ?err, "engine upkeep failed");
                }
            })
        })?;
        scheduler.add(job).await?;
        scheduler.start().await?;
        Ok(scheduler)
    }

    /// The provider account for a trunk: its own credentials, else the deployment's.
    pub fn account_for(
        &self,
        account_sid: Option<&str>,
        auth_token_enc: Option<&[u8]>,
    ) -> Option<ProviderAccount> {
        self.inner.account_for(account_sid, auth_token_enc)
    }

    /// What it takes to act on a placed call (hang up, redirect): its dialer, provider
    /// account and provider id. `None` while the provider has not given the call an id, or
    /// when no dialer or account serves its trunk.
    pub async fn live_call(&self, call_id: Uuid) -> sqlx::Result<Option<LiveCall>> {
        let row = sqlx::query!(
            "select c.provider_call_id, c.mode, t.account_sid, t.auth_token_enc
             from calls c left join trunks t on t.id = c.trunk_id where c.id = $1",
            call_id
        )
        .fetch_optional(&self.inner.db)
        .await?;
        Ok(row.and_then(|row| {
            let dialer = self.dialer(&row.mode)?;
            Some(LiveCall {
                provider_call_id: row.provider_call_id?,
                account: self.inner.account_of(
                    dialer.as_ref(),
                    row.account_sid.as_deref(),
                    row.auth_token_enc.as_deref(),
                )?,
                dialer,
            })
        }))
    }

    pub fn dialer(&self, mode: &str) -> Option<Arc<dyn Dialer>> {
        self.inner.dialers.get(mode).cloned()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn tokens(&self) -> &CallTokens {
        &self.inner.tokens
    }

    /// The token the worker of an inbound call presents, minted like a dial's.
    pub fn mint_call_token(
        &self,
        call: Uuid,
        org: Uuid,
        now: chrono::DateTime<chrono::Utc>,
        max_duration_sec: i32,
    ) -> String {
        self.inner.call_token(call, org, now, max_duration_sec)
    }
}

impl Inner {
    /// The token a call's worker presents: good through the ring time, the call's longest
    /// length and the grace a worker needs to flush its events.
    fn call_token(
        &self,
        call: Uuid,
        org: Uuid,
        now: chrono::DateTime<chrono::Utc>,
        max_duration_sec: i32,
    ) -> String {
        let expires = now.timestamp()
            + i64::from(self.settings.ring_timeout_sec)
            + i64::from(max_duration_sec)
            + self.token_grace_sec;
        self.tokens.mint(call, org, expires)
    }

    /// The account `dialer` acts with: none needed for LiveKit, else the trunk's or the
    /// deployment's Twilio account.
    fn account_of(
        &self,
        dialer: &dyn Dialer,
        account_sid: Option<&str>,
        auth_token_enc: Option<&[u8]>,
    ) -> Option<ProviderAccount> {
        if dialer.needs_account() {
            self.account_for(account_sid, auth_token_enc)
        } else {
            Some(ProviderAccount::unused())
        }
    }

    fn account_for(
        &self,
        account_sid: Option<&str>,
        auth_token_enc: Option<&[u8]>,
    ) -> Option<ProviderAccount> {
        match (account_sid, auth_token_enc) {
            (Some(sid), Some(sealed)) => match self.secrets.open(sealed) {
                Ok(token) => Some(ProviderAccount {
                    account_sid: sid.to_string(),
                    auth_token: SecretString::from(token.expose_secret().to_string()),
                }),
                Err(err) => {
                    tracing::error!(error = %err, "cannot decrypt a trunk's auth token");
                    None
                }
            },
            _ => self.default_account.clone(),
        }
    }
}
