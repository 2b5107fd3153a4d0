//! The voice rig: everything real except the phone network and the AI services. A control
//! plane with its engine on the wall clock, the Twilio emulator (callees that speak and
//! listen in test speech code), the provider emulator, and a real agent worker, wired by
//! base URLs exactly as a deployment is.

use std::sync::Arc;
use std::time::Duration;

use agent_worker::app::{router, Worker};
use agent_worker::config::WorkerConfig;
use control_plane::app::Application;
use control_plane::config::Settings;
use control_plane::engine::SystemClock;
use secrecy::SecretString;
use sqlx::PgPool;

use super::{free_port, Api, WORKER_KEY};
use crate::process::{agent_worker_binary, AgentWorker};
use crate::providers::{ProviderConfig, ProviderEmulator};
use crate::twilio::{Emulator, EmulatorConfig, EmulatorHandle};

/// The secret per-call tokens are signed with, shared by control plane and worker.
pub const TOKEN_SECRET: &str = "voice-rig-token-secret";
/// The key the worker uses for every provider (the emulator accepts any).
pub const PROVIDER_KEY: &str = "voice-rig-provider-key";

/// What a voice test can change before the rig starts.
pub struct VoiceOptions {
    pub providers: ProviderConfig,
    /// Adjusts the worker's settings (fallback chains, timeouts, pipeline).
    pub worker: Box<dyn FnOnce(&mut WorkerConfig) + Send>,
    /// Adjusts the control plane's settings.
    pub control_plane: Box<dyn FnOnce(&mut Settings) + Send>,
    /// Run the worker as its own process (so a test can kill it), not in the test's.
    pub worker_process: bool,
}

impl Default for VoiceOptions {
    fn default() -> Self {
        VoiceOptions {
            providers: ProviderConfig::instant(),
            worker: Box::new(|_| {}),
            control_plane: Box::new(|_| {}),
            worker_process: false,
        }
    }
}

/// A running voice rig.
pub struct VoiceRig {
    pub db: PgPool,
    pub api: Api,
    pub twilio: EmulatorHandle,
    pub providers: ProviderEmulator,
    pub worker: RigWorker,
    /// `ws://.../twilio/media` of the worker.
    pub media_url: String,
    /// Where recordings are stored (shared by worker and control plane).
    pub recordings: tempfile::TempDir,
    pub settings: Settings,
}

impl VoiceRig {
    pub async fn start(db: PgPool, options: VoiceOptions) -> anyhow::Result<Self> {
        Self::start_as(db, options, "voice@example.com").await
    }

    /// [`Self::start`], registering the organization as `email`.
    pub async fn start_as(db: PgPool, options: VoiceOptions, email: &str) -> anyhow::Result<Self> {
        let twilio = Emulator::start(EmulatorConfig::unlimited()).await?;
        let providers = ProviderEmulator::start(options.providers).await?;
        let recordings = tempfile::tempdir()?;
        let store_url = format!("file://{}", recordings.path().display());
        let cp_port = free_port()?;
        let cp_url = format!("http://127.0.0.1:{cp_port}");

        let mut config = worker_config(&cp_url, &providers, &store_url);
        (options.worker)(&mut config);
        let (worker, media_url) = if options.worker_process {
            let log = recordings.path().join("worker.log");
            let process =
                AgentWorker::start(&agent_worker_binary()?, &worker_env(&config), &[], &log)
                    .await?;
            let media_url = process.media_url();
            (RigWorker::Process(Box::new(process)), media_url)
        } else {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let media_url = format!("ws://{}/twilio/media", listener.local_addr()?);
            // The control plane reaches the worker here to supervise its calls.
            config
                .server
                .supervise_url
                .get_or_insert(format!("http://{}", listener.local_addr()?));
            let worker = Worker::new(config)?;
            let app = router(worker.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });
            worker.spawn_heartbeat();
            (RigWorker::InProcess(worker), media_url)
        };

        let mut settings = control_plane_settings(cp_port, &twilio, &media_url, &store_url)?;
        (options.control_plane)(&mut settings);
        let app =
            Application::build_with(settings.clone(), db.clone(), Arc::new(SystemClock)).await?;
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let api = Api::register(&cp_url, email).await?;
        let rig = VoiceRig {
            db,
            api,
            twilio,
            providers,
            worker,
            media_url,
            recordings,
            settings,
        };
        rig.wait_for_worker().await?;
        Ok(rig)
    }

    async fn wait_for_worker(&self) -> anyhow::Result<()> {
        for _ in 0..200 {
            let list = self.api.get("/api/v1/workers").await?;
            if list["data"].as_array().is_some_and(|w| !w.is_empty()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("the agent worker never sent a heartbeat")
    }

    /// Waits until the campaign is `completed`.
    pub async fn wait_for_campaign(&self, id: &str, limit: Duration) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        loop {
            if self.api.campaign_status(id).await? == "completed" {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < limit,
                "campaign {id} not done in {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The rig's agent worker.
pub enum RigWorker {
    InProcess(Arc<Worker>),
    Process(Box<AgentWorker>),
    /// Taken away by the test (killed).
    Gone,
}

/// The settings of `config` that differ from the defaults, as `AW__...` variables.
fn worker_env(config: &WorkerConfig) -> Vec<(String, String)> {
    use secrecy::ExposeSecret;
    let secret = |s: &Option<SecretString>| {
        s.as_ref()
            .map(|s| s.expose_secret().to_string())
            .unwrap_or_default()
    };
    let p = &config.providers;
    [
        ("SERVER__WORKER_ID", config.worker_id()),
        ("CONTROL_PLANE__URL", config.control_plane.url.clone()),
        (
            "CONTROL_PLANE__API_KEY",
            config.control_plane.api_key.expose_secret().to_string(),
        ),
        (
            "CONTROL_PLANE__TOKEN_SECRET",
            config
                .control_plane
                .token_secret
                .expose_secret()
                .to_string(),
        ),
        (
            "CONTROL_PLANE__HEARTBEAT_SEC",
            config.control_plane.heartbeat_sec.to_string(),
        ),
        ("PROVIDERS__DEEPGRAM__BASE_URL", p.deepgram.base_url.clone()),
        ("PROVIDERS__DEEPGRAM__API_KEY", secret(&p.deepgram.api_key)),
        ("PROVIDERS__OPENAI__BASE_URL", p.openai.base_url.clone()),
        ("PROVIDERS__OPENAI__API_KEY", secret(&p.openai.api_key)),
        (
            "PROVIDERS__ELEVENLABS__BASE_URL",
            p.elevenlabs.base_url.clone(),
        ),
        (
            "PROVIDERS__ELEVENLABS__API_KEY",
            secret(&p.elevenlabs.api_key),
        ),
        ("RECORDING__ENABLED", config.recording.enabled.to_string()),
        ("RECORDING__STORE_URL", config.recording.store_url.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("AW__{k}"), v))
    .collect()
}

impl std::ops::Deref for VoiceRig {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// The worker pointed at the emulators and the control plane.
pub fn worker_config(cp_url: &str, providers: &ProviderEmulator, store_url: &str) -> WorkerConfig {
    let mut config = WorkerConfig::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.worker_id = Some("voice-rig-worker".into());
    config.control_plane.url = cp_url.to_string();
    config.control_plane.api_key = SecretString::from(WORKER_KEY);
    config.control_plane.token_secret = SecretString::from(TOKEN_SECRET);
    config.control_plane.heartbeat_sec = 1;
    let key = || Some(SecretString::from(PROVIDER_KEY));
    config.providers.deepgram.base_url = providers.base_url().to_string();
    config.providers.deepgram.api_key = key();
    config.providers.openai.base_url = providers.openai_base_url();
    config.providers.openai.api_key = key();
    config.providers.elevenlabs.base_url = providers.base_url().to_string();
    config.providers.elevenlabs.api_key = key();
    config.recording.enabled = true;
    config.recording.store_url = store_url.to_string();
    config
}

/// The control plane with its engine on the wall clock, dialing through the emulator.
fn control_plane_settings(
    port: u16,
    twilio: &EmulatorHandle,
    media_url: &str,
    store_url: &str,
) -> anyhow::Result<Settings> {
    let mut s = super::base_settings(port, twilio, media_url)?;
    s.engine.enabled = true;
    s.engine.tick_ms = 100;
    s.engine.ring_timeout_sec = 10;
    s.workers.token_secret = SecretString::from(TOKEN_SECRET);
    s.recordings.store_url = store_url.to_string();
    Ok(s)
}
