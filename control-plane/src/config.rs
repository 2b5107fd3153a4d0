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
    pub limits: LimitSettings,
    pub webhooks: WebhookSettings,
    pub analysis: AnalysisSettings,
}

/// Delivering the organizations' events to their webhook endpoints (`integrations`).
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSettings {
    /// Run the delivery and end-of-call report loops in this replica (every replica may;
    /// leases keep them apart).
    pub enabled: bool,
    /// How often the loops look for due work.
    pub poll_ms: u64,
    /// How long one delivery request may take before it counts as failed.
    pub request_timeout_ms: u64,
    /// Deliveries in flight to one endpoint at once (per replica): a slow endpoint holds
    /// this many, never the others'.
    pub per_endpoint_in_flight: i64,
    /// Deliveries in flight at once in this replica.
    pub max_in_flight: usize,
    /// The wait before the first retry; it doubles per failed attempt...
    pub first_retry_sec: f64,
    /// ...up to this much between two attempts...
    pub max_retry_sec: f64,
    /// ...and a delivery still failing this long after its first attempt is `failed`.
    pub give_up_after_sec: f64,
    /// How long a claimed delivery stays ours (longer than a request may take).
    pub lease_sec: f64,
    /// How long after an answered call ended its worker has to report its last events
    /// before the end-of-call report goes out without them.
    pub report_grace_sec: f64,
    /// How long one replica holds a call's end-of-call report (analysis included) before
    /// another may take it: a replica that dies mid-report delays it this long.
    pub report_lease_sec: f64,
    /// Send to loopback, private and link-local addresses too (on-premises receivers,
    /// tests). Off: a customer's URL cannot reach into the deployment's own network.
    pub allow_private_targets: bool,
}

/// The OpenAI-compatible chat completions endpoint post-call analysis runs on.
/// Unset `base_url`: assistants' analysis plans are stored but no analysis runs.
#[derive(Debug, Clone, Deserialize)]
pub struct AnalysisSettings {
    /// `https://api.openai.com/v1` or any compatible server (the tests' emulator).
    pub base_url: Option<String>,
    pub api_key: Option<SecretString>,
    pub model: String,
    pub request_timeout_sec: u64,
    /// Price of the model's tokens, in cents per million, for the call's cost.
    pub prompt_cents_per_million: f64,
    pub completion_cents_per_million: f64,
}

/// Abuse limits (see `limits`), counted per replica. Per minute unless named otherwise.
#[derive(Debug, Clone, Deserialize)]
pub struct LimitSettings {
    /// Off only for rigs that make many requests fast; never in a deployment.
    pub enabled: bool,
    /// Logins and registrations from one client address.
    pub auth_per_address_per_minute: u32,
    /// Logins and registrations for one email.
    pub auth_per_account_per_minute: u32,
    /// Failed logins in a row that lock the account...
    pub login_failures_before_lock: u32,
    /// ...for this long.
    pub login_lock_sec: u64,
    /// Authenticated API requests per API key.
    pub api_key_per_minute: u32,
    /// Authenticated API requests per organization (sessions and keys together).
    pub org_per_minute: u32,
    /// Behind a proxy: the header holding the client's address (`X-Forwarded-For`);
    /// its last entry is used. Unset: the socket's peer address.
    pub client_address_header: Option<String>,
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
    /// What a minute of a Twilio call costs, in cents (billed per started minute): the
    /// call's `telephony` cost line. Twilio's US outbound list price by default.
    pub cents_per_minute: f64,
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
    /// Media Streams slots campaigns leave free for inbound callers while any number has an
    /// assistant (OUTBOUND_CALLS.md, "Inbound numbers and SMS").
    pub inbound_reserve_slots: i64,
    /// Not a setting of its own: `webhooks.allow_private_targets`, copied in when the
    /// engine is built, for the pre-dial check's requests.
    #[serde(skip)]
    pub pre_dial_allow_private_targets: bool,
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
    /// Origins (comma-separated, e.g. `https://app.example.com`) whose browsers may call
    /// the API (CORS). Empty: none.
    pub cors_allowed_origins: String,
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
    /// Demo mode for the bare binary: start with the built-in development secrets (a
    /// warning each). Off by default, so a deployment that forgot one does not start.
    pub allow_dev_secrets: bool,
}

/// A key that is fine for a laptop and must be overridden in production: the binary
/// refuses it unless `auth.allow_dev_secrets` is set.
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

    /// Refuses empty secrets always, and the built-in development secrets unless
    /// `auth.allow_dev_secrets` (demo mode) is set. The binary calls this before anything
    /// else; the demo and the tests build the app in-process with their own settings.
    pub fn check_secrets(&self) -> anyhow::Result<()> {
        use secrecy::ExposeSecret;
        let secrets = [
            ("CP__AUTH__JWT_SECRET", &self.auth.jwt_secret),
            ("CP__AUTH__ENCRYPTION_KEY", &self.auth.encryption_key),
            ("CP__WORKERS__API_KEY", &self.workers.api_key),
            ("CP__WORKERS__TOKEN_SECRET", &self.workers.token_secret),
        ];
        let mut problems = Vec::new();
        for (name, secret) in secrets {
            let value = secret.expose_secret();
            if value.trim().is_empty() {
                problems.push(format!("{name} is empty"));
            } else if value == DEV_SECRET {
                if self.auth.allow_dev_secrets {
                    tracing::warn!("{name} is the built-in development secret (demo mode)");
                } else {
                    problems.push(format!("{name} is the built-in development secret"));
                }
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        anyhow::bail!(
            "refusing to start: {}. Set each to a long random value (e.g. `openssl rand -hex 32`); \
             for a local demo only, CP__AUTH__ALLOW_DEV_SECRETS=true accepts the built-in ones",
            problems.join("; ")
        )
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
        .set_default("server.cors_allowed_origins", "")?
        .set_default("limits.enabled", true)?
        .set_default("limits.auth_per_address_per_minute", 20)?
        .set_default("limits.auth_per_account_per_minute", 10)?
        .set_default("limits.login_failures_before_lock", 10)?
        .set_default("limits.login_lock_sec", 900)?
        .set_default("limits.api_key_per_minute", 600)?
        .set_default("limits.org_per_minute", 1200)?
        .set_default("database.max_connections", 20)?
        .set_default("database.migrate", true)?
        .set_default("auth.jwt_secret", DEV_SECRET)?
        .set_default("auth.jwt_ttl_hours", 24)?
        .set_default("auth.encryption_key", DEV_SECRET)?
        .set_default("auth.allow_dev_secrets", false)?
        .set_default("twilio.base_url", "https://api.twilio.com")?
        .set_default(
            "twilio.media_stream_url",
            "ws://127.0.0.1:8081/twilio/media",
        )?
        .set_default("twilio.request_timeout_sec", 15)?
        .set_default("twilio.trunking_url", "https://trunking.twilio.com")?
        .set_default("twilio.cents_per_minute", 1.4)?
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
        .set_default("engine.inbound_reserve_slots", 1)?
        .set_default("workers.api_key", DEV_SECRET)?
        .set_default("workers.token_secret", DEV_SECRET)?
        .set_default("workers.token_grace_sec", 600)?
        .set_default("workers.heartbeat_ttl_sec", 15)?
        .set_default("recordings.store_url", "data/recordings")?
        .set_default("webhooks.enabled", true)?
        .set_default("webhooks.poll_ms", 250)?
        .set_default("webhooks.request_timeout_ms", 10_000)?
        .set_default("webhooks.per_endpoint_in_flight", 4)?
        .set_default("webhooks.max_in_flight", 64)?
        .set_default("webhooks.first_retry_sec", 10.0)?
        .set_default("webhooks.max_retry_sec", 3600.0)?
        .set_default("webhooks.give_up_after_sec", 86_400.0)?
        .set_default("webhooks.lease_sec", 60.0)?
        .set_default("webhooks.report_grace_sec", 120.0)?
        .set_default("webhooks.report_lease_sec", 300.0)?
        .set_default("webhooks.allow_private_targets", false)?
        .set_default("analysis.model", "gpt-4o-mini")?
        .set_default("analysis.request_timeout_sec", 30)?
        .set_default("analysis.prompt_cents_per_million", 15.0)?
        .set_default("analysis.completion_cents_per_million", 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::defaults("postgres://unused").unwrap()
    }

    fn with_own_secrets() -> Settings {
        let mut s = settings();
        s.auth.jwt_secret = SecretString::from("a-real-jwt-secret");
        s.auth.encryption_key = SecretString::from("a-real-encryption-key");
        s.workers.api_key = SecretString::from("a-real-worker-key");
        s.workers.token_secret = SecretString::from("a-real-token-secret");
        s
    }

    #[test]
    fn the_built_in_secrets_are_refused_outside_demo_mode() {
        let err = settings().check_secrets().unwrap_err().to_string();
        for name in [
            "CP__AUTH__JWT_SECRET",
            "CP__AUTH__ENCRYPTION_KEY",
            "CP__WORKERS__API_KEY",
            "CP__WORKERS__TOKEN_SECRET",
        ] {
            assert!(err.contains(name), "{err}");
        }
        let mut demo = settings();
        demo.auth.allow_dev_secrets = true;
        assert!(demo.check_secrets().is_ok());
    }

    #[test]
    fn an_empty_secret_is_refused_even_in_demo_mode() {
        let mut s = with_own_secrets();
        assert!(s.check_secrets().is_ok());
        s.auth.allow_dev_secrets = true;
        s.workers.token_secret = SecretString::from(" ");
        let err = s.check_secrets().unwrap_err().to_string();
        assert!(err.contains("CP__WORKERS__TOKEN_SECRET is empty"), "{err}");
    }
}
