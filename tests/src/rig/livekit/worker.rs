//! The real agent worker, in this process, taking the rig's dispatches from livekit-server
//! (`agent_worker::transport::livekit`): it registers under the rig's agent name, accepts
//! a job, checks the call's token, fetches the job from the control plane, joins the room
//! and reports `connected`, and holds the conversation once the callee answers, as in
//! production.

use std::sync::Arc;
use std::time::Duration;

use agent_worker::app::Worker;
use agent_worker::config::WorkerConfig;
use agent_worker::transport::livekit::LiveKitAgent;
use secrecy::SecretString;

use crate::livekit::LiveKitServer;
use crate::rig::WORKER_KEY;

/// A running worker with its LiveKit side.
pub struct RigWorker {
    pub worker: Arc<Worker>,
    pub livekit: LiveKitAgent,
}

impl std::fmt::Debug for RigWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RigWorker").finish_non_exhaustive()
    }
}

impl RigWorker {
    /// Starts a worker for the control plane at `control_plane`, with `configure` applied
    /// to its settings last, and waits until LiveKit has registered it.
    pub async fn start_configured(
        control_plane: &str,
        livekit: &LiveKitServer,
        agent_name: &str,
        configure: impl FnOnce(&mut WorkerConfig),
    ) -> anyhow::Result<Self> {
        let mut config = WorkerConfig::default();
        config.recording.enabled = false;
        config.control_plane.url = control_plane.to_string();
        config.control_plane.api_key = SecretString::from(WORKER_KEY);
        config.control_plane.token_secret = SecretString::from(super::TOKEN_SECRET);
        config.livekit.url = Some(livekit.url.clone());
        config.livekit.api_key = Some(livekit.api_key.clone());
        config.livekit.api_secret = Some(SecretString::from(livekit.api_secret.clone()));
        config.livekit.agent_name = agent_name.to_string();
        config.livekit.status_interval_ms = 500;
        config.livekit.room_check_ms = 200;
        config.server.worker_id = Some(format!("rig-worker-{}", uuid::Uuid::new_v4().simple()));
        configure(&mut config);
        let worker = Worker::new(config)?;
        let livekit = LiveKitAgent::start(&worker)?
            .ok_or_else(|| anyhow::anyhow!("the worker's livekit.url is not set"))?;
        for _ in 0..200 {
            if livekit.registrations() > 0 {
                return Ok(Self { worker, livekit });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("the agent worker never registered at LiveKit")
    }
}
