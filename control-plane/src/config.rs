//! Typed settings: built-in defaults, then an optional TOML file, then the environment.
//!
//! The file is `CONTROL_PLANE_CONFIG` (default `control-plane.toml` if present); environment
//! variables are `CP__SECTION__KEY` (for example `CP__SERVER__PORT=8080`), and the usual
//! `DATABASE_URL` is honoured as well. Secrets are `SecretString` so they never reach a log.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use serde::Deserialize;

/// Everything the control plane needs to start.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub twilio: TwilioSettings,
    pub engine: EngineSettings,
    pub workers: WorkerSettings,
    pub recordings: RecordingSettings,
    pub livekit: LiveKitSettings,
}

/// The LiveKit project (LiveKit Cloud or self-hosted) that outbound SIP trunks are
/// registered with. Unset `url` means no LiveKit: `livekit_sip` trunks are stored only.
#[derive(Debug, Clone, Deserialize)]
pub struct LiveKitSettings {
    /// The server's HTTP(S) URL: `https://<project>.livekit.cloud` or
    /// `http://livekit-server:7880` (`wss://` and `ws://` are accepted and mapped).
    pub url: Option<String>,
    pub api_key: Option<String>,
    pub api_secret: Option<SecretString>,
    /// How long a request to LiveKit's API may take (a dial that waits for the answer
    /// gets the ring time on top).
    pub request_timeout_sec: u64,
    /// The agent workers' name at LiveKit: `CreateDispatch{agent_name}` asks for it.
    pub agent_name: String,
    /// How long a `livekit_sip` dial waits for a worker to take the room's job before it
    /// ends `no_worker` (the attempt is not used up).
    pub worker_wait_sec: u64,
    /// The control plane's URL as workers reach it, passed in the dispatch metadata;
    /// unset means `server.public_url`.
    pub control_plane_url: Option<String>,
}

/// The store call recordings live in: the same one the agent workers write to.
#[derive(Clone, Deserialize)]
pub struct RecordingSettings {
    /// A folder, `file:///...` or `s3://bucket/prefix`; S3 settings come from the standard
    /// `AWS_*` environment (see `shared::storage`).
    pub store_url: String,
    /// object_store options (`aws_endpoint`, `aws_region`, ...).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for RecordingSettings {
    // Options may carry credentials: their names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingSettings")
            .field("store_url", &self.store_url)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The deployment's Twilio account (a `twilio_stream` trunk may carry its own).
#[derive(Debug, Clone, Deserialize)]
pub struct TwilioSettings {
    /// `https://api.twilio.com`, or the emulator's URL in tests and the demo.
    pub base_url: String,
    pub account_sid: Option<String>,
    pub auth_token: Option<SecretString>,
    /// The agent workers' Media Streams WebSocket URL Twilio connects to.
    pub media_stream_url: String,
    /// How long a REST request to Twilio may take.
    pub request_timeout_sec: u64,
    /// Elastic SIP Trunking's API (`https://trunking.twilio.com`), or the emulator's URL.
    pub trunking_url: String,
}

/// The campaign engine running inside this replica.
#[derive(Debug, Clone, Deserialize)]
pub struct EngineSettings {
    /// Run the engine in this replica (every replica may; leases keep them apart).
    pub enabled: bool,
    /// How often the engine looks for due attempts.
    pub tick_ms: u64,
    /// How long a leased attempt stays ours before the reaper may re-queue it.
    pub lease_sec: i64,
    /// Most attempts leased per campaign per tick.
    pub batch: i64,
    /// How long a call may ring.
    pub ring_timeout_sec: u32,
    /// A `dialing` attempt with no word from the provider after this long is reconciled.
    pub reconcile_after_sec: i64,
    /// How long after the provider ends a call the worker has to report its end.
    pub worker_grace_sec: i64,
}

/// How agent workers authenticate to the internal API.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// Workers present this to register and heartbeat.
    pub api_key: SecretString,
    /// Signs the per-call tokens workers present.
    pub token_secret: SecretString,
    /// A call token lives for the call's maximum duration plus this.
    pub token_grace_sec: i64,
    /// A worker whose last heartbeat is older than this has no free slots.
    pub heartbeat_ttl_sec: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// The URL others use to reach this service (webhooks, workers).
    pub public_url: String,
    /// Ordinary requests are cut off after this many seconds.
    pub request_timeout_sec: u64,
    /// Largest ordinary request body (JSON).
    pub body_limit_bytes: usize,
    /// CSV uploads stream and may be large: their own limit and timeout.
    pub upload_limit_bytes: usize,
    pub upload_timeout_sec: u64,
    /// How long in-flight requests get to finish after a shutdown signal.
    pub shutdown_grace_sec: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    /// Apply the migrations in `database/migrations` at start-up.
    pub migrate: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    /// Signs the session JWTs handed out by login and register.
    pub jwt_secret: SecretString,
    pub jwt_ttl_hours: i64,
    /// Encrypts trunk secrets at rest (any string; a 256-bit key is derived from it).
    pub encryption_key: SecretString,
}

/// A key that is fine for a laptop and must be overridden in production; start-up warns.
pub const DEV_SECRET: &str = "dev-only-secret-change-me";

impl Settings {
    /// Defaults, then the file, then the environment.
    pub fn load() -> anyhow::Result<Self> {
        let file = std::env::var("CONTROL_PLANE_CONFIG")
            .unwrap_or_else(|_| "control-plane.toml".to_string());
        let mut builder = defaults()?
            .add_source(config::File::with_name(&file).required(false))
            .add_source(
                // An empty variable is unset: compose files and charts pass optional
                // secrets as `VAR=` when none is given.
                config::Environment::with_prefix("CP")
                    .ignore_empty(true)
                    .prefix_separator("__")
                    .separator("__"),
            );
        if let Ok(url) = std::env::var("DATABASE_URL") {
            builder = builder.set_override("database.url", url)?;
        }
        builder
            .build()?
            .try_deserialize()
            .context("invalid settings (is DATABASE_URL set?)")
    }

    /// The built-in defaults alone, with `database_url`: the base tests and tools start
    /// from before changing what they need.
    pub fn defaults(database_url: &str) -> anyhow::Result<Self> {
        defaults()?
            .set_override("database.url", database_url)?
            .build()?
            .try_deserialize()
            .context("invalid default settings")
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.server.request_timeout_sec)
    }

    pub fn upload_timeout(&self) -> Duration {
        Duration::from_secs(self.server.upload_timeout_sec)
    }
}

/// The built-in defaults: fine on a laptop, overridden by file and environment.
fn defaults() -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    config::Config::builder()
        .set_default("server.host", "127.0.0.1")?
        .set_default("server.port", 8080)?
        .set_default("server.public_url", "http://127.0.0.1:8080")?
        .set_default("server.request_timeout_sec", 30)?
        .set_default("server.body_limit_bytes", 1024 * 1024)?
        .set_default("server.upload_limit_bytes", 1024_i64 * 1024 * 1024)?
        .set_default("server.upload_timeout_sec", 1800)?
        .set_default("server.shutdown_grace_sec", 30)?
        .set_default("database.max_connections", 20)?
        .set_default("database.migrate", true)?
        .set_default("auth.jwt_secret", DEV_SECRET)?
        .set_default("auth.jwt_ttl_hours", 24)?
        .set_default("auth.encryption_key", DEV_SECRET)?
        .set_default("twilio.base_url", "https://api.twilio.com")?
        .set_default(
            "twilio.media_stream_url",
            "ws://127.0.0.1:8081/twilio/media",
        )?
        .set_default("twilio.request_timeout_sec", 15)?
        .set_default("twilio.trunking_url", "https://trunking.twilio.com")?
        .set_default("livekit.request_timeout_sec", 15)?
        .set_default("livekit.agent_name", "outbound-agent")?
        .set_default("livekit.worker_wait_sec", 10)?
        .set_default("engine.enabled", true)?
        .set_default("engine.tick_ms", 500)?
        .set_default("engine.lease_sec", 60)?
        .set_default("engine.batch", 50)?
        .set_default("engine.ring_timeout_sec", 30)?
        .set_default("engine.reconcile_after_sec", 120)?
        .set_default("engine.worker_grace_sec", 15)?
        .set_default("workers.api_key", DEV_SECRET)?
        .set_default("workers.token_secret", DEV_SECRET)?
        .set_default("workers.token_grace_sec", 600)?
        .set_default("workers.heartbeat_ttl_sec", 15)?
        .set_default("recordings.store_url", "data/recordings")
}
