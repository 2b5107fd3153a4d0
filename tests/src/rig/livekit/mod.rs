//! The end-to-end rig in LiveKit SIP mode: the control plane (engine on the test's manual
//! clock) dialing through a real livekit-server and livekit-sip to sipp callees, with
//! livekit-server's webhooks signed and posted to the control plane.

mod worker;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;

use super::Rig;
use crate::livekit::{Callee, LiveKitServer, LiveKitSipService, ServerOptions};
use crate::process::{agent_worker_binary, AgentWorker};
use crate::providers::{ProviderConfig, ProviderEmulator};
use crate::rig::WORKER_KEY;

pub use worker::RigWorker;

/// The agent name the rig's control plane dispatches.
pub const AGENT_NAME: &str = "rig-agent";

/// The secrets every control plane and worker of the rig share: their own, not the
/// built-in development ones, so a replica started as a process accepts them too.
pub const TOKEN_SECRET: &str = "livekit-rig-call-token-secret-0123456789";
pub const JWT_SECRET: &str = "livekit-rig-session-jwt-secret-0123456789";
pub const ENCRYPTION_KEY: &str = "livekit-rig-encryption-key-0123456789abc";

/// A [`Rig`] whose `livekit_sip` campaigns dial through the real LiveKit SIP path.
pub struct LiveKitRig {
    pub rig: Rig,
    pub livekit: Arc<LiveKitServer>,
    pub sip: LiveKitSipService,
    /// The STT, LLM and TTS the rig's workers talk through (answered calls hold a real
    /// conversation in the room).
    pub providers: ProviderEmulator,
    /// The recording store the rig's workers write and its control plane serves.
    pub recordings: tempfile::TempDir,
}

impl std::ops::Deref for LiveKitRig {
    type Target = Rig;
    fn deref(&self) -> &Rig {
        &self.rig
    }
}

impl LiveKitRig {
    /// A start for the manual clock: 15:00 UTC (10:00 in New York, inside calling hours)
    /// on the latest day it has already been 15:00. The real agent worker checks call
    /// tokens by the real clock, so the test's clock must stay close to it.
    pub fn now() -> DateTime<Utc> {
        let real = Utc::now();
        let today = real
            .date_naive()
            .and_hms_opt(15, 0, 0)
            .unwrap_or_default()
            .and_utc();
        if today <= real {
            today
        } else {
            today - chrono::Duration::days(1)
        }
    }

    /// Starts Redis, livekit-server (webhooks to the control plane), livekit-sip and the
    /// control plane. `worker_wait_sec` is how long a dial waits for a worker.
    pub async fn start(
        db: PgPool,
        start: DateTime<Utc>,
        worker_wait_sec: u64,
    ) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let livekit = Arc::new(
            LiveKitServer::start_with(ServerOptions {
                webhook_url: Some(format!("http://127.0.0.1:{port}/webhooks/livekit")),
            })
            .await?,
        );
        let sip = LiveKitSipService::start(&livekit).await?;
        let recordings = tempfile::tempdir()?;
        let store_url = format!("file://{}", recordings.path().display());
        let cp_store_url = store_url.clone();
        let (url, key, secret) = (
            livekit.url.clone(),
            livekit.api_key.clone(),
            livekit.api_secret.clone(),
        );
        let rig = Rig::start_on(db, start, listener, move |s| {
            s.livekit.url = Some(url);
            s.livekit.api_key = Some(key);
            s.livekit.api_secret = Some(SecretString::from(secret));
            s.livekit.agent_name = AGENT_NAME.into();
            s.livekit.worker_wait_sec = worker_wait_sec;
            // A dial lasts real seconds (worker wait, ringing) while the manual clock
            // races ahead: reconciliation must not take a dial in flight for a lost one.
            s.engine.reconcile_after_sec = 100_000;
            // livekit-sip's ring window starts at its INVITE. With the engine rig's 2 s, a
            // busy callee's first dial once ended no_answer in CI, most likely because the
            // 486 was read late while eight tests' Go servers shared two cores: the window
            // must be far longer than any stall, not what a test measures.
            s.engine.ring_timeout_sec = 6;
            // The worker judges call tokens by the real clock, the control plane mints
            // them on the test's clock (at most a day behind it, see `LiveKitRig::now`).
            s.workers.token_grace_sec = 3 * 86_400;
            s.workers.token_secret = SecretString::from(TOKEN_SECRET);
            s.auth.jwt_secret = SecretString::from(JWT_SECRET);
            s.auth.encryption_key = SecretString::from(ENCRYPTION_KEY);
            s.recordings.store_url = cp_store_url;
        })
        .await?;
        let providers = ProviderEmulator::start(ProviderConfig::instant()).await?;
        Ok(Self {
            rig,
            livekit,
            sip,
            providers,
            recordings,
        })
    }

    /// A real agent worker taking this rig's dispatches, talking through the rig's
    /// provider emulators.
    pub async fn worker(&self) -> RigWorker {
        self.worker_with(None).await
    }

    /// The agent-worker binary as its own process taking this rig's dispatches (a test
    /// can SIGKILL it mid-call), recording into the rig's store; its log is `log`.
    pub async fn worker_process(&self, log: &std::path::Path) -> anyhow::Result<AgentWorker> {
        let providers = &self.providers;
        let key = "livekit-rig-provider-key".to_string();
        let settings: Vec<(String, String)> = [
            (
                "SERVER__WORKER_ID",
                format!("rig-process-{}", uuid::Uuid::new_v4().simple()),
            ),
            ("CONTROL_PLANE__URL", self.rig.api.base.clone()),
            ("CONTROL_PLANE__API_KEY", WORKER_KEY.to_string()),
            ("CONTROL_PLANE__TOKEN_SECRET", TOKEN_SECRET.to_string()),
            ("LIVEKIT__URL", self.livekit.url.clone()),
            ("LIVEKIT__API_KEY", self.livekit.api_key.clone()),
            ("LIVEKIT__API_SECRET", self.livekit.api_secret.clone()),
            ("LIVEKIT__AGENT_NAME", AGENT_NAME.to_string()),
            ("LIVEKIT__STATUS_INTERVAL_MS", "500".to_string()),
            ("LIVEKIT__ROOM_CHECK_MS", "200".to_string()),
            (
                "PROVIDERS__DEEPGRAM__BASE_URL",
                providers.base_url().to_string(),
            ),
            ("PROVIDERS__DEEPGRAM__API_KEY", key.clone()),
            ("PROVIDERS__OPENAI__BASE_URL", providers.openai_base_url()),
            ("PROVIDERS__OPENAI__API_KEY", key.clone()),
            (
                "PROVIDERS__ELEVENLABS__BASE_URL",
                providers.base_url().to_string(),
            ),
            ("PROVIDERS__ELEVENLABS__API_KEY", key),
            ("RECORDING__ENABLED", "true".to_string()),
            ("RECORDING__STORE_URL", self.store_url()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("AW__{k}"), v))
        .collect();
        AgentWorker::start(&agent_worker_binary()?, &settings, &[], log).await
    }

    /// A real agent worker that takes at most `max_jobs` of this rig's dispatches at once.
    pub async fn worker_with_limit(&self, max_jobs: u32) -> RigWorker {
        self.worker_with(Some(max_jobs)).await
    }

    async fn worker_with(&self, max_jobs: Option<u32>) -> RigWorker {
        let providers = &self.providers;
        let (base, openai) = (
            providers.base_url().to_string(),
            providers.openai_base_url(),
        );
        let store_url = self.store_url();
        RigWorker::start_configured(&self.rig.api.base, &self.livekit, AGENT_NAME, move |c| {
            if let Some(max_jobs) = max_jobs {
                c.livekit.max_jobs = max_jobs;
            }
            let key = || Some(SecretString::from("livekit-rig-provider-key"));
            c.providers.deepgram.base_url = base.clone();
            c.providers.deepgram.api_key = key();
            c.providers.openai.base_url = openai;
            c.providers.openai.api_key = key();
            c.providers.elevenlabs.base_url = base;
            c.providers.elevenlabs.api_key = key();
            // Recorded and metered as a Twilio call is.
            c.recording.enabled = true;
            c.recording.store_url = store_url;
        })
        .await
        .expect("starting the agent worker")
    }

    /// `file://` URL of [`LiveKitRig::recordings`].
    pub fn store_url(&self) -> String {
        format!("file://{}", self.recordings.path().display())
    }

    /// A started campaign over `contacts` on a `livekit_sip` trunk whose carrier is
    /// `callee`; `campaign` is merged over the rig's defaults.
    pub async fn campaign_to(
        &self,
        callee: &Callee,
        contacts: Vec<Value>,
        campaign: Value,
    ) -> anyhow::Result<String> {
        self.campaign_to_port(callee.port, contacts, campaign).await
    }

    /// [`LiveKitRig::campaign_to`] a callee listening for SIP on `127.0.0.1:<port>`.
    pub async fn campaign_to_port(
        &self,
        port: u16,
        contacts: Vec<Value>,
        mut campaign: Value,
    ) -> anyhow::Result<String> {
        let trunk = json!({"provider": "other", "mode": "livekit_sip",
                           "address": format!("127.0.0.1:{port}")});
        if let Some(object) = campaign.as_object_mut() {
            object.insert("trunk".into(), trunk);
        }
        self.rig.start_campaign(contacts, campaign).await
    }

    /// [`LiveKitRig::campaign_to_port`] with its own assistant definition.
    pub async fn campaign_with_assistant(
        &self,
        port: u16,
        contacts: Vec<Value>,
        assistant: Value,
        mut campaign: Value,
    ) -> anyhow::Result<String> {
        let trunk = json!({"provider": "other", "mode": "livekit_sip",
                           "address": format!("127.0.0.1:{port}")});
        if let Some(object) = campaign.as_object_mut() {
            object.insert("trunk".into(), trunk);
        }
        self.rig
            .start_campaign_with(contacts, assistant, campaign)
            .await
    }

    /// Drives the engine (the manual clock `step_sec` per round, real time passing too)
    /// until `done` holds, for at most `rounds` rounds of at least 20 ms; panics with the
    /// campaigns' state and livekit-sip's log otherwise.
    pub async fn drive_until<F>(&self, step_sec: i64, rounds: u32, what: &str, done: F)
    where
        F: Fn(&LiveKitRig) -> futures::future::BoxFuture<'_, bool>,
    {
        for _ in 0..rounds {
            self.engine.tick().await.expect("engine tick");
            self.engine.maintain().await.expect("engine upkeep");
            if done(self).await {
                return;
            }
            self.clock.advance(chrono::Duration::seconds(step_sec));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let mut state = String::new();
        for id in self.campaign_ids().await {
            let calls = self.calls(&id).await.unwrap_or_default();
            state.push_str(&format!("campaign {id}\n calls {calls:#?}\n"));
        }
        panic!(
            "not done in {rounds} rounds: {what}\n{state}\nlivekit-sip:\n{}",
            self.sip.log()
        );
    }

    /// Every campaign's id (for a failing test's report).
    pub async fn campaign_ids(&self) -> Vec<String> {
        sqlx::query_scalar("select id::text from campaigns")
            .fetch_all(&self.rig.db)
            .await
            .unwrap_or_default()
    }

    /// The campaign's calls, oldest first.
    pub async fn calls(&self, campaign: &str) -> anyhow::Result<Vec<Value>> {
        let page = self
            .get(&format!("/api/v1/campaigns/{campaign}/calls?perPage=500"))
            .await?;
        let mut calls = page["data"].as_array().cloned().unwrap_or_default();
        calls.sort_by(|a, b| a["createdAt"].as_str().cmp(&b["createdAt"].as_str()));
        Ok(calls)
    }
}
