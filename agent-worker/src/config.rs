//! The worker's settings: built-in defaults, then `agent-worker.toml` (or the file named by
//! `AGENT_WORKER_CONFIG`), then `AW__SECTION__KEY` environment variables.

use crate::audio::recording::RecordingConfig;
use crate::pipeline::config::PipelineConfig;
use crate::providers::config::ProvidersConfig;
use anyhow::Context;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

/// Everything the worker reads at startup.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct WorkerConfig {
    pub server: ServerConfig,
    pub control_plane: ControlPlaneConfig,
    pub twilio: TwilioConfig,
    pub livekit: LiveKitConfig,
    pub standalone: StandaloneConfig,
    pub pipeline: PipelineConfig,
    pub providers: ProvidersConfig,
    pub recording: RecordingConfig,
}

/// The HTTP/WebSocket listener and this worker's identity and size.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    pub listen: String,
    /// Reported in heartbeats and events; defaults to `<hostname>-<pid>`.
    pub worker_id: Option<String>,
    /// Calls held at once; further streams are refused.
    pub max_calls: u32,
    /// How long a Media Stream may take to send `start`.
    pub handshake_timeout_ms: u64,
    /// On SIGTERM, how long live calls may take to finish.
    pub drain_timeout_sec: u64,
    /// Worker threads (0 = one per core).
    pub threads: usize,
    /// Where the control plane reaches this worker's HTTP listener for live supervision
    /// (e.g. `http://10.0.0.7:8081`), sent in heartbeats; unset, its calls cannot be
    /// supervised.
    pub supervise_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8081".into(),
            worker_id: None,
            max_calls: 500,
            handshake_timeout_ms: 5_000,
            drain_timeout_sec: 3_600,
            threads: 0,
            supervise_url: None,
        }
    }
}

/// How the worker reaches the control plane.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ControlPlaneConfig {
    pub url: String,
    /// The deployment's worker API key (heartbeats).
    pub api_key: SecretString,
    /// The secret per-call tokens are signed with (shared with the control plane).
    pub token_secret: SecretString,
    pub heartbeat_sec: u64,
    /// Demo mode for the bare binary: start with the built-in development secrets. Off by
    /// default, so a deployment that forgot one does not start.
    pub allow_dev_secrets: bool,
}

/// The built-in development secret (the control plane's too): refused unless
/// `control_plane.allow_dev_secrets` is set.
pub const DEV_SECRET: &str = "dev-only-secret-change-me";

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        ControlPlaneConfig {
            url: "http://127.0.0.1:8080".into(),
            // The control plane's development defaults, so the two run together on a
            // laptop with no settings; every deployment sets its own.
            api_key: SecretString::from(DEV_SECRET),
            token_secret: SecretString::from(DEV_SECRET),
            heartbeat_sec: 5,
            allow_dev_secrets: false,
        }
    }
}

/// Twilio Media Streams checks.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct TwilioConfig {
    /// When set, the upgrade's `X-Twilio-Signature` must be valid for this auth token.
    pub auth_token: Option<SecretString>,
    /// The exact URL Twilio connects to (what it signs), e.g. `wss://worker.example.com/twilio/media`.
    pub media_url: Option<String>,
}

/// LiveKit's agent-worker protocol (`AW__LIVEKIT__*`): off while `url` is unset; on, the
/// worker registers at `<url>/agent` and takes dispatched jobs next to Twilio's streams.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LiveKitConfig {
    /// `http(s)://` or `ws(s)://` address of the LiveKit server.
    pub url: Option<String>,
    pub api_key: Option<String>,
    pub api_secret: Option<SecretString>,
    /// The name dispatches ask for (`CreateDispatch{agent_name}`); must match the control
    /// plane's.
    pub agent_name: String,
    /// LiveKit jobs held at once (on top of `server.max_calls`, which bounds all calls).
    pub max_jobs: u32,
    /// The LiveKit server's `agents.target_load` (its default 0.7; LiveKit Cloud's too):
    /// the server offers jobs only to workers whose reported load is under it, so the load
    /// is reported on that scale (see `transport::livekit::slots`).
    pub target_load: f32,
    /// The agent's track sends nothing while the agent is silent (after 100 ms of silence),
    /// as WebRTC's DTX does: about half a call's packets, their encoding and forwarding.
    pub pause_in_silence: bool,
    /// How often load is reported and the connection pinged.
    pub status_interval_ms: u64,
    /// How often a live job checks that its room still exists (until the room participant
    /// sees the room close itself).
    pub room_check_ms: u64,
    /// First pause before reconnecting; doubles up to `reconnect_max_ms`.
    pub reconnect_initial_ms: u64,
    pub reconnect_max_ms: u64,
}

impl Default for LiveKitConfig {
    fn default() -> Self {
        LiveKitConfig {
            url: None,
            api_key: None,
            api_secret: None,
            agent_name: "outbound-agent".into(),
            max_jobs: 100,
            target_load: 0.7,
            pause_in_silence: true,
            status_interval_ms: 2_500,
            room_check_ms: 2_000,
            reconnect_initial_ms: 250,
            reconnect_max_ms: 10_000,
        }
    }
}

/// Standalone mode: Media Streams calls with no control plane.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct StandaloneConfig {
    /// Off by default: a worker without a control plane must be asked for explicitly.
    pub enabled: bool,
    /// The assistant (JSON: a `CallJob` without ids, or with them).
    pub assistant_file: Option<PathBuf>,
}

impl WorkerConfig {
    /// Defaults, then the file, then the environment.
    pub fn load() -> anyhow::Result<Self> {
        let file = std::env::var("AGENT_WORKER_CONFIG")
            .unwrap_or_else(|_| "agent-worker.toml".to_string());
        config::Config::builder()
            .add_source(config::File::with_name(&file).required(false))
            .add_source(
                // An empty variable is unset: compose files and charts pass optional
                // secrets as `VAR=` when none is given.
                config::Environment::with_prefix("AW")
                    .ignore_empty(true)
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize::<Self>()
            .context("invalid agent worker settings")
            .map(|mut config| {
                // The providers' own variable names work too (`DEEPGRAM_API_KEY`, ...).
                config.providers = config
                    .providers
                    .with_keys_from_env(|var| std::env::var(var).ok());
                config
            })
    }

    /// Refuses empty control-plane secrets always, and the built-in ones unless
    /// `control_plane.allow_dev_secrets` is set. A standalone worker talks to no control
    /// plane and needs neither.
    pub fn check_secrets(&self) -> anyhow::Result<()> {
        use secrecy::ExposeSecret;
        if self.standalone.enabled {
            return Ok(());
        }
        let cp = &self.control_plane;
        let mut problems = Vec::new();
        for (name, secret) in [
            ("AW__CONTROL_PLANE__API_KEY", &cp.api_key),
            ("AW__CONTROL_PLANE__TOKEN_SECRET", &cp.token_secret),
        ] {
            let value = secret.expose_secret();
            if value.trim().is_empty() {
                problems.push(format!("{name} is empty"));
            } else if value == DEV_SECRET && !cp.allow_dev_secrets {
                problems.push(format!("{name} is the built-in development secret"));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        anyhow::bail!(
            "refusing to start: {}. Set each to the control plane's CP__WORKERS__API_KEY / \
             CP__WORKERS__TOKEN_SECRET; for a local demo only, \
             AW__CONTROL_PLANE__ALLOW_DEV_SECRETS=true accepts the built-in ones",
            problems.join("; ")
        )
    }

    /// This worker's id.
    pub fn worker_id(&self) -> String {
        self.server.worker_id.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
            format!("{host}-{}", std::process::id())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_secrets_are_refused_unless_demo_mode_or_standalone() {
        let config = WorkerConfig::default();
        let err = config.check_secrets().unwrap_err().to_string();
        assert!(err.contains("AW__CONTROL_PLANE__API_KEY"), "{err}");
        assert!(err.contains("AW__CONTROL_PLANE__TOKEN_SECRET"), "{err}");
        let mut demo = WorkerConfig::default();
        demo.control_plane.allow_dev_secrets = true;
        assert!(demo.check_secrets().is_ok());
        let mut standalone = WorkerConfig::default();
        standalone.standalone.enabled = true;
        assert!(standalone.check_secrets().is_ok());
    }

    #[test]
    fn empty_secrets_are_refused_even_in_demo_mode() {
        let mut config = WorkerConfig::default();
        config.control_plane.allow_dev_secrets = true;
        config.control_plane.api_key = SecretString::from("");
        config.control_plane.token_secret = SecretString::from("a-real-token-secret");
        let err = config.check_secrets().unwrap_err().to_string();
        assert!(err.contains("AW__CONTROL_PLANE__API_KEY is empty"), "{err}");
        config.control_plane.api_key = SecretString::from("a-real-worker-key");
        assert!(config.check_secrets().is_ok());
    }
}
