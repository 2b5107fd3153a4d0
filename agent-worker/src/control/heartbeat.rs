//! The worker's heartbeat: every few seconds it tells the control plane that it is alive
//! and how many calls it holds and can hold, which is how the engine decides how many
//! Media Streams calls to start. On shutdown a last beat says "draining, capacity 0", so
//! no new call is routed to a worker that is going away.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;
use shared::job::CallMode;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::client::ControlPlane;

/// The most capacity the control plane accepts.
const MAX_CAPACITY: u32 = 100_000;
/// Tries of the last beat: it matters, and the worker is about to go anyway.
const FINAL_ATTEMPTS: u32 = 3;

/// The body of `POST /internal/v1/workers/heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub worker_id: String,
    /// Serialises as `twilio_stream` or `livekit_sip`.
    pub mode: CallMode,
    /// Where the worker can be reached (informational).
    pub url: Option<String>,
    /// Where the control plane reaches the worker's supervision API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervise_url: Option<String>,
    /// Calls it can hold at once.
    pub capacity: i32,
    /// Calls it holds now.
    pub active_calls: i32,
    /// Shutting down: takes no new calls.
    pub draining: bool,
}

/// How many calls this worker can hold and holds: shared by the sessions (which take a
/// [`CallSlot`] each) and the heartbeat (which reads it).
#[derive(Debug)]
pub struct Capacity {
    capacity: AtomicU32,
    active: AtomicU32,
}

impl Capacity {
    /// Room for `capacity` calls, none taken.
    pub fn new(capacity: u32) -> Arc<Self> {
        Arc::new(Self {
            capacity: AtomicU32::new(capacity),
            active: AtomicU32::new(0),
        })
    }

    /// Calls the worker can hold at once.
    pub fn capacity(&self) -> u32 {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Changes the capacity; calls already held keep their slots.
    pub fn set_capacity(&self, capacity: u32) {
        self.capacity.store(capacity, Ordering::Relaxed);
    }

    /// Calls held now.
    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    /// Calls that could still be taken.
    pub fn free(&self) -> u32 {
        self.capacity().saturating_sub(self.active())
    }

    /// A slot for one more call, if one is free; the call holds it until it ends.
    pub fn try_acquire(self: &Arc<Self>) -> Option<CallSlot> {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |active| {
                (active < self.capacity()).then_some(active + 1)
            })
            .ok()
            .map(|_| CallSlot(self.clone()))
    }
}

/// One call's share of the capacity, given back when dropped.
#[derive(Debug)]
pub struct CallSlot(Arc<Capacity>);

impl Drop for CallSlot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Who the worker is, for its heartbeats.
#[derive(Debug, Clone)]
pub struct HeartbeatConfig {
    /// Unique per worker process (for example the pod name).
    pub worker_id: String,
    /// The transport the worker serves.
    pub mode: CallMode,
    /// Where the worker can be reached (informational).
    pub url: Option<String>,
    /// Where the control plane reaches the worker's supervision API.
    pub supervise_url: Option<String>,
    /// Between beats; well under the control plane's `heartbeat_ttl_sec` (15 s).
    pub interval: Duration,
}

impl HeartbeatConfig {
    /// A worker of `mode` beating every 5 seconds.
    pub fn new(worker_id: impl Into<String>, mode: CallMode) -> Self {
        Self {
            worker_id: worker_id.into(),
            mode,
            url: None,
            supervise_url: None,
            interval: Duration::from_secs(5),
        }
    }
}

/// Spawns [`run`].
pub fn spawn(
    control: ControlPlane,
    api_key: SecretString,
    config: HeartbeatConfig,
    capacity: Arc<Capacity>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run(control, api_key, config, capacity, shutdown))
}

/// Beats every `interval` until `shutdown`, then sends the draining beat and returns.
/// A failed beat is logged and the next one tried on time.
pub async fn run(
    control: ControlPlane,
    api_key: SecretString,
    config: HeartbeatConfig,
    capacity: Arc<Capacity>,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(config.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let beat = beat(&config, capacity.capacity(), capacity.active(), false);
        if let Err(err) = control.heartbeat(&api_key, &beat).await {
            tracing::warn!(error = %err, "heartbeat failed");
        }
    }
    let last = beat(&config, 0, capacity.active(), true);
    for attempt in 1..=FINAL_ATTEMPTS {
        match control.heartbeat(&api_key, &last).await {
            Ok(()) => return,
            Err(err) if err.is_transient() && attempt < FINAL_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "the draining heartbeat failed");
                return;
            }
        }
    }
}

fn beat(config: &HeartbeatConfig, capacity: u32, active: u32, draining: bool) -> Heartbeat {
    let clamp = |n: u32| n.min(MAX_CAPACITY) as i32;
    Heartbeat {
        worker_id: config.worker_id.clone(),
        mode: config.mode,
        url: config.url.clone(),
        supervise_url: config.supervise_url.clone(),
        capacity: clamp(capacity),
        active_calls: clamp(active),
        draining,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_up_to_the_capacity_and_given_back_on_drop() {
        let capacity = Capacity::new(2);
        let first = capacity.try_acquire().unwrap();
        let _second = capacity.try_acquire().unwrap();
        assert!(capacity.try_acquire().is_none());
        assert_eq!((capacity.active(), capacity.free()), (2, 0));
        drop(first);
        assert_eq!((capacity.active(), capacity.free()), (1, 1));
        capacity.set_capacity(0);
        assert_eq!(capacity.free(), 0);
        assert!(capacity.try_acquire().is_none());
    }

    #[test]
    fn the_beat_is_the_json_the_control_plane_reads() {
        let config = HeartbeatConfig::new("w1", CallMode::TwilioStream);
        let json = serde_json::to_value(beat(&config, 8, 3, false)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"workerId": "w1", "mode": "twilio_stream", "url": null,
                               "capacity": 8, "activeCalls": 3, "draining": false})
        );
    }
}
