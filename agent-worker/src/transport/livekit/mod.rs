//! LiveKit's agent-worker protocol: the worker registers at `<livekit>/agent` as a room-job
//! worker under the configured `agent_name`, answers each `AvailabilityRequest` from its real
//! load, runs the jobs LiveKit assigns, and reports `UpdateWorkerStatus` (load, full,
//! draining) and `UpdateJobStatus` (running, success, failed).
//!
//! - `wire`: the protobuf messages, the `/agent` address and the agent token.
//! - `slots`: the job limit and the worker's shared call slots, i.e. the load.
//! - `connection`: one registered WebSocket: offers, assignments, terminations, pings.
//! - `job`: one assigned job: verify the call token, fetch the call's job, join the room,
//!   report `connected`, wait for the callee's answer and hold the conversation.
//! - `room`: the agent in the LiveKit room (pure-Rust WebRTC participant).
//!
//! [`LiveKitAgent`] keeps one connection up, reconnecting with exponential backoff and
//! registering anew; jobs outlive a lost connection. Once the worker drains (SIGTERM) it
//! reports itself full and draining, declines every offer, and ends when its live jobs have.

mod connection;
pub mod job;
pub mod room;
mod slots;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use livekit_protocol::worker_message;
use secrecy::SecretString;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::Worker;
use slots::{JobSlot, Slots};

/// Job status updates waiting for the connection (a burst of jobs ending at once).
const UPDATE_QUEUE: usize = 1024;

/// The LiveKit side of a worker process, running in the background.
pub struct LiveKitAgent {
    agent: Arc<Agent>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for LiveKitAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitAgent")
            .field("url", &self.agent.url)
            .field("agent_name", &self.agent.agent_name)
            .finish_non_exhaustive()
    }
}

impl LiveKitAgent {
    /// Starts the LiveKit side if `livekit.url` is set (`None` otherwise). It stops once the
    /// worker drains (`Worker::start_draining`) and its LiveKit jobs have ended.
    pub fn start(worker: &Arc<Worker>) -> anyhow::Result<Option<Self>> {
        let config = &worker.config.livekit;
        let Some(url) = config.url.as_deref().filter(|url| !url.is_empty()) else {
            return Ok(None);
        };
        let api_key = config
            .api_key
            .clone()
            .context("livekit.url is set: livekit.api_key is needed too")?;
        let api_secret = config
            .api_secret
            .clone()
            .context("livekit.url is set: livekit.api_secret is needed too")?;
        anyhow::ensure!(
            config.target_load > 0.0 && config.target_load <= 1.0,
            "livekit.target_load must be above 0 and at most 1 (the LiveKit server's \
             agents.target_load), not {}",
            config.target_load
        );
        let (updates, queue) = mpsc::channel(UPDATE_QUEUE);
        let agent = Arc::new(Agent {
            worker: worker.clone(),
            url: wire::agent_url(url),
            http_url: wire::http_url(url),
            api_key,
            api_secret,
            agent_name: config.agent_name.clone(),
            status_interval: Duration::from_millis(config.status_interval_ms.max(100)),
            room_check: Duration::from_millis(config.room_check_ms.max(50)),
            reconnect_initial: Duration::from_millis(config.reconnect_initial_ms.max(10)),
            reconnect_max: Duration::from_millis(config.reconnect_max_ms.max(10)),
            slots: Slots::new(config.max_jobs, config.target_load, worker.capacity.clone()),
            offered: Mutex::default(),
            jobs: Mutex::default(),
            updates,
            changed: Notify::new(),
            registrations: AtomicU64::new(0),
            declined: AtomicU64::new(0),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            registered_as: Mutex::default(),
        });
        let task = tokio::spawn(run(agent.clone(), queue));
        Ok(Some(Self { agent, task }))
    }

    /// LiveKit jobs held now (offered and not yet assigned included).
    pub fn live_jobs(&self) -> u32 {
        self.agent.slots.live()
    }

    /// Successful registrations so far (more than one after a reconnect).
    pub fn registrations(&self) -> u64 {
        self.agent.registrations.load(Ordering::Acquire)
    }

    /// Offers answered "not available" so far.
    pub fn declined(&self) -> u64 {
        self.agent.declined.load(Ordering::Acquire)
    }

    /// Jobs ended so far: (succeeded, failed).
    pub fn ended_jobs(&self) -> (u64, u64) {
        (
            self.agent.succeeded.load(Ordering::Acquire),
            self.agent.failed.load(Ordering::Acquire),
        )
    }

    /// The worker id LiveKit gave the current registration.
    pub fn livekit_worker_id(&self) -> Option<String> {
        lock(&self.agent.registered_as).clone()
    }

    /// Waits until the LiveKit side has stopped (after a drain).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// What the connection and the jobs share.
struct Agent {
    worker: Arc<Worker>,
    /// `ws(s)://host/agent?protocol=1`.
    url: String,
    /// `http(s)://host`, for the room service.
    http_url: String,
    api_key: String,
    api_secret: SecretString,
    agent_name: String,
    /// Between status reports and pings.
    status_interval: Duration,
    /// Between checks that a live job's room still exists.
    room_check: Duration,
    reconnect_initial: Duration,
    reconnect_max: Duration,
    slots: Arc<Slots>,
    /// Jobs answered "available" and not assigned yet, holding their slot so that two
    /// offers in a row cannot both take the last one.
    offered: Mutex<HashMap<String, (JobSlot, Instant)>>,
    /// Live jobs by LiveKit job id: cancelled when LiveKit terminates one.
    jobs: Mutex<HashMap<String, CancellationToken>>,
    /// `UpdateJobStatus` messages from the jobs, sent by whichever connection is up.
    updates: mpsc::Sender<worker_message::Message>,
    /// Load changed (a job ended): report it now rather than at the next tick.
    changed: Notify,
    registrations: AtomicU64,
    /// Offers answered "not available".
    declined: AtomicU64,
    /// Jobs ended with `JS_SUCCESS` / `JS_FAILED`.
    succeeded: AtomicU64,
    failed: AtomicU64,
    registered_as: Mutex<Option<String>>,
}

impl Agent {
    /// Draining and nothing left to finish.
    fn drained(&self) -> bool {
        self.worker.is_draining() && self.slots.live() == 0
    }

    /// Queues a job's status for the server.
    async fn job_update(&self, message: worker_message::Message) {
        if self.updates.send(message).await.is_err() {
            tracing::debug!("the LiveKit connection has stopped; a job update is dropped");
        }
    }
}

/// Poison-tolerant lock: the maps hold plain data that a panic cannot leave half-written.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps a registered connection up until the worker has drained.
async fn run(agent: Arc<Agent>, mut updates: mpsc::Receiver<worker_message::Message>) {
    let mut delay = agent.reconnect_initial;
    loop {
        match connection::run(&agent, &mut updates).await {
            Ok(()) => {
                tracing::info!("LiveKit agent drained: every job has ended");
                return;
            }
            Err(lost) => {
                if lost.registered {
                    delay = agent.reconnect_initial;
                }
                tracing::warn!(error = %lost.error, retry_in = ?delay,
                    "LiveKit agent connection lost");
            }
        }
        // Offers made on the lost connection will not be assigned on the next one.
        lock(&agent.offered).clear();
        agent.changed.notify_one();
        if agent.drained() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            // A job ending while draining may leave nothing to reconnect for.
            _ = agent.changed.notified(), if agent.worker.is_draining() => {}
        }
        if agent.drained() {
            return;
        }
        delay = (delay * 2).min(agent.reconnect_max);
    }
}
