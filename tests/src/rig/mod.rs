//! The end-to-end rig: a control plane on a free port (with its engine driven by the test
//! on a manual clock), the Twilio emulator, and a stand-in worker, wired together the way
//! a deployment is: through base URLs and webhooks.

mod api;
pub mod livekit;
mod standin;
pub mod voice;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use control_plane::app::Application;
use control_plane::config::Settings;
use control_plane::engine::{Engine, ManualClock};
use control_plane::state::AppState;
use secrecy::SecretString;
use sqlx::PgPool;

use crate::twilio::{Emulator, EmulatorConfig, EmulatorHandle};

pub use api::Api;
pub use standin::{StandInCall, StandInWorker};

/// The worker key the rig's control plane expects.
pub const WORKER_KEY: &str = "rig-worker-key";

/// Everything an engine test needs.
pub struct Rig {
    pub db: PgPool,
    pub clock: Arc<ManualClock>,
    pub engine: Engine,
    pub twilio: EmulatorHandle,
    pub worker: StandInWorker,
    /// The control plane's API as the rig's organization.
    pub api: Api,
    /// The control plane's settings (to start more replicas like it).
    pub settings: Settings,
}

impl Rig {
    /// Starts everything with the manual clock at `start`.
    pub async fn start(db: PgPool, start: DateTime<Utc>) -> anyhow::Result<Self> {
        Self::start_with(db, start, |_| {}).await
    }

    /// Like [`Rig::start`], with `adjust` changing the control plane's settings first (to
    /// point it at a LiveKit server, say).
    pub async fn start_with(
        db: PgPool,
        start: DateTime<Utc>,
        adjust: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        Self::start_on(db, start, listener, adjust).await
    }

    /// Like [`Rig::start_with`], with the control plane on `listener`, bound beforehand
    /// because something must know its address first (livekit-server's webhooks). Holding
    /// the port from then on matters: a test that only noted a free port saw livekit-sip
    /// or sipp of a parallel test take it before the control plane bound it.
    pub async fn start_on(
        db: PgPool,
        start: DateTime<Utc>,
        listener: std::net::TcpListener,
        adjust: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let clock = Arc::new(ManualClock::new(start));
        // Twilio reports times on the test's clock, as it would on the shared real time.
        let twilio = Emulator::start(EmulatorConfig {
            clock: clock.clone(),
            ..EmulatorConfig::unlimited()
        })
        .await?;
        let api = format!("http://127.0.0.1:{port}");
        // Calls stay up long enough for answering-machine detection to decide (about 1.5 s
        // for a short greeting and its beep), as a real agent would stay on the line.
        let worker =
            StandInWorker::start(&api, WORKER_KEY, 1000, Duration::from_millis(2500)).await?;
        let mut settings = settings(port, &twilio, &worker.media_url())?;
        adjust(&mut settings);
        let app = Application::build_on(settings.clone(), db.clone(), clock.clone(), listener)?;
        let engine = app.engine();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let api = Api::register(&api, "rig@example.com").await?;
        let rig = Self {
            db,
            clock,
            engine,
            twilio,
            worker,
            api,
            settings,
        };
        rig.wait_for_worker().await?;
        Ok(rig)
    }

    /// Another replica's engine on the same database, clock and Twilio account.
    pub fn another_engine(&self) -> anyhow::Result<Engine> {
        Ok(
            AppState::with_clock(self.db.clone(), self.settings.clone(), self.clock.clone())?
                .engine,
        )
    }

    async fn wait_for_worker(&self) -> anyhow::Result<()> {
        for _ in 0..100 {
            let list = self.get("/api/v1/workers").await?;
            if list["data"].as_array().is_some_and(|w| !w.is_empty()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("the stand-in worker never registered")
    }

    /// Ticks the engine, runs upkeep and moves the clock by `step` until `done` says so or
    /// `max_rounds` pass. Real time passes too (`pause` per round) so calls can happen.
    pub async fn drive<F>(
        &self,
        step: chrono::Duration,
        max_rounds: usize,
        mut done: F,
    ) -> anyhow::Result<usize>
    where
        F: FnMut(&Self) -> futures::future::BoxFuture<'_, anyhow::Result<bool>>,
    {
        for round in 0..max_rounds {
            self.engine.tick().await?;
            self.engine.maintain().await?;
            if done(self).await? {
                return Ok(round);
            }
            self.clock.advance(step);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::bail!("not done after {max_rounds} rounds")
    }
}

impl std::ops::Deref for Rig {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A control plane on `port` dialing through `twilio` to workers at `media_url`, with the
/// rig's worker key, for a database the rig hands over.
pub(crate) fn base_settings(
    port: u16,
    twilio: &EmulatorHandle,
    media_url: &str,
) -> anyhow::Result<Settings> {
    let mut s = Settings::defaults("postgres://unused")?;
    s.server.port = port;
    s.server.public_url = format!("http://127.0.0.1:{port}");
    s.server.shutdown_grace_sec = 1;
    s.database.migrate = false;
    s.database.max_connections = 10;
    s.twilio.base_url = twilio.base_url().to_string();
    s.twilio.trunking_url = twilio.base_url().to_string();
    s.twilio.account_sid = Some(twilio.account_sid().to_string());
    s.twilio.auth_token = Some(SecretString::from(twilio.auth_token().to_string()));
    s.twilio.media_stream_url = media_url.to_string();
    s.workers.api_key = SecretString::from(WORKER_KEY);
    // Rigs and benchmarks make many requests fast from one address and organization.
    s.limits.enabled = false;
    Ok(s)
}

/// Settings for the rig's control plane.
fn settings(port: u16, twilio: &EmulatorHandle, media_url: &str) -> anyhow::Result<Settings> {
    let mut s = base_settings(port, twilio, media_url)?;
    // The test drives the engine on its manual clock.
    s.engine.enabled = false;
    // Small leases, so replicas ticking together really share the queue.
    s.engine.batch = 8;
    s.engine.ring_timeout_sec = 2;
    s.engine.reconcile_after_sec = 30;
    // Heartbeats come in real time while the manual clock races ahead.
    s.workers.heartbeat_ttl_sec = 10_000_000;
    // Calls (and answering-machine detection) last real seconds while the manual clock
    // moves minutes per round: call tokens, judged by that clock, get a day of grace so a
    // stand-in's last events are not refused as expired.
    s.workers.token_grace_sec = 86_400;
    // Not the default folder under the working directory: nothing here records.
    s.recordings.store_url = std::env::temp_dir()
        .join("outbound-rig-recordings")
        .display()
        .to_string();
    Ok(s)
}

/// A port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
