//! [`EventReporter`]: one call's events to the control plane, in order, each exactly once,
//! surviving a control-plane restart.
//!
//! The session hands events to a bounded channel; one background task per call
//! (`delivery`) moves them into a bounded backlog and posts them in small batches.
//! Sequence numbers are given when an event is first sent, not when it is reported, so
//! events dropped from a full backlog or refused by the control plane leave no gap. While the control plane is
//! unreachable the task retries with backoff and keeps taking events meanwhile, so a
//! report never waits on the network.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use shared::events::EventKind;
use shared::job::CallJob;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::backlog::{Backlog, Pending};
use super::client::ControlPlane;
use super::delivery::{Command, Counters, Delivery, Intake};

/// Sizes and timings of a reporter.
#[derive(Debug, Clone)]
pub struct ReporterConfig {
    /// Events in the channel between the session and the task.
    pub queue: usize,
    /// Unsent events kept before transcript and tool-call events are dropped.
    pub max_backlog: usize,
    /// Most events per post.
    pub max_batch: usize,
    /// First pause after a failed post; doubles up to `retry_max`.
    pub retry_initial: Duration,
    /// The longest pause between tries.
    pub retry_max: Duration,
}

impl Default for ReporterConfig {
    fn default() -> Self {
        Self {
            queue: 256,
            max_backlog: 1000,
            max_batch: 50,
            retry_initial: Duration::from_millis(200),
            retry_max: Duration::from_secs(5),
        }
    }
}

/// What became of the events reported so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReporterStats {
    /// Accepted by `report`.
    pub reported: u64,
    /// Acknowledged by the control plane.
    pub delivered: u64,
    /// Dropped from a full backlog.
    pub dropped: u64,
    /// Refused by the control plane as invalid (and so dropped).
    pub rejected: u64,
}

/// The reporter's task has stopped (finished, or given up on refused credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event reporter has stopped")]
pub struct ReporterClosed;

/// A handle to one call's reporter. Clones report to the same task.
#[derive(Debug, Clone)]
pub struct EventReporter {
    tx: mpsc::Sender<Command>,
    /// `at_ms` of `report` counts from here.
    origin: Instant,
    counters: Arc<Counters>,
    stop: CancellationToken,
}

impl EventReporter {
    /// Starts the task posting to `events_url` with `token` (needs a Tokio runtime).
    pub fn start(
        control: ControlPlane,
        events_url: impl Into<String>,
        token: SecretString,
        config: ReporterConfig,
    ) -> Self {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let counters = Arc::new(Counters::default());
        let stop = CancellationToken::new();
        let delivery = Delivery {
            control,
            url: events_url.into(),
            token,
            intake: Intake {
                rx,
                open: true,
                backlog: Backlog::new(config.max_backlog),
                finishing: None,
                counters: counters.clone(),
            },
            config,
            inflight: Vec::new(),
            next_seq: 1,
            one_by_one: 0,
            stop: stop.clone(),
        };
        tokio::spawn(delivery.run().in_current_span());
        Self {
            tx,
            origin: Instant::now(),
            counters,
            stop,
        }
    }

    /// Starts a reporter for `job`'s events URL.
    pub fn for_job(
        control: ControlPlane,
        job: &CallJob,
        token: SecretString,
        config: ReporterConfig,
    ) -> Self {
        Self::start(control, job.events_url.clone(), token, config)
    }

    /// Reports an event that happened now (`at_ms` since the reporter started). Waits
    /// only while the channel is full.
    pub async fn report(&self, kind: EventKind) -> Result<(), ReporterClosed> {
        let at_ms = i64::try_from(self.origin.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.report_at(kind, at_ms).await
    }

    /// Reports an event that happened `at_ms` after the call's media started.
    pub async fn report_at(&self, kind: EventKind, at_ms: i64) -> Result<(), ReporterClosed> {
        self.tx
            .send(Command::Event(Pending { at_ms, kind }))
            .await
            .map_err(|_| ReporterClosed)?;
        self.counters.reported.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Counts so far, for all clones together.
    pub fn stats(&self) -> ReporterStats {
        ReporterStats {
            reported: self.counters.reported.load(Ordering::Relaxed),
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
        }
    }

    /// Waits until every event reported (by any clone) is acknowledged, or `timeout`;
    /// returns whether all were. The task stops either way.
    pub async fn finish(self, timeout: Duration) -> bool {
        let (reply, answer) = oneshot::channel();
        let flushed = tokio::time::timeout(timeout, async {
            self.tx.send(Command::Finish(reply)).await.is_ok() && answer.await.unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if !flushed {
            self.stop.cancel();
        }
        flushed
    }
}
