//! [`EventReporter`]: one call's events to the control plane, in order, each exactly once,
//! surviving a control-plane restart.
//!
//! The session hands events to a bounded channel; one background task per call moves
//! them into a bounded [`Backlog`] and posts them in small batches. Sequence numbers are
//! given when an event is first sent, not when it is reported, so events dropped from a
//! full backlog or refused by the control plane leave no gap. While the control plane is
//! unreachable the task retries with backoff and keeps taking events meanwhile, so a
//! report never waits on the network.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use shared::events::{CallEvent, EventKind};
use shared::job::CallJob;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::backlog::{Backlog, Pending};
use super::client::{ControlError, ControlPlane};

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
    pub reported: u64,
    /// Acknowledged by the control plane.
    pub delivered: u64,
    /// Dropped from a full backlog.
    pub dropped: u64,
    /// Refused by the control plane as invalid (and so dropped).
    pub rejected: u64,
}

#[derive(Debug, Default)]
struct Counters {
    reported: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
}

/// The reporter's task has stopped (finished, or given up on refused credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event reporter has stopped")]
pub struct ReporterClosed;

enum Command {
    Event(Pending),
    Finish(oneshot::Sender<bool>),
}

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

/// The task's side of the channel.
struct Intake {
    rx: mpsc::Receiver<Command>,
    /// False once every handle is gone: what is left is still delivered.
    open: bool,
    backlog: Backlog,
    finishing: Option<oneshot::Sender<bool>>,
    counters: Arc<Counters>,
}

impl Intake {
    /// Takes the next command; never resolves once the channel is closed.
    async fn next(&mut self) {
        if !self.open {
            return std::future::pending().await;
        }
        match self.rx.recv().await {
            None => self.open = false,
            Some(Command::Finish(reply)) => self.finishing = Some(reply),
            Some(Command::Event(event)) => {
                if let Some(dropped) = self.backlog.push(event) {
                    let count = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    if count == 1 || count % 100 == 0 {
                        tracing::warn!(
                            dropped = count,
                            at_ms = dropped.at_ms,
                            "the control plane is behind; dropping old transcript events"
                        );
                    }
                }
            }
        }
    }
}

/// The background task.
struct Delivery {
    control: ControlPlane,
    url: String,
    token: SecretString,
    config: ReporterConfig,
    intake: Intake,
    /// Numbered events sent but not yet acknowledged, in order.
    inflight: Vec<CallEvent>,
    next_seq: i64,
    /// Events still to send one per post, to find which one the control plane refuses.
    one_by_one: usize,
    stop: CancellationToken,
}

impl Delivery {
    async fn run(mut self) {
        let mut delay = self.config.retry_initial;
        loop {
            if self.inflight.is_empty() {
                self.number_next_batch();
            }
            if self.inflight.is_empty() {
                if let Some(reply) = self.intake.finishing.take() {
                    let _ = reply.send(true);
                    return;
                }
                if !self.intake.open {
                    return;
                }
                tokio::select! {
                    _ = self.stop.cancelled() => return,
                    () = self.intake.next() => {}
                }
                continue;
            }
            let Some(result) = self.post(false).await else {
                return;
            };
            let result = match result {
                Ok(ack) => {
                    self.acknowledge(ack);
                    Ok(())
                }
                Err(ControlError::Conflict(message)) => {
                    tracing::warn!(%message, "event sequence conflict; asking what was applied");
                    match self.post(true).await {
                        None => return,
                        Some(Ok(ack)) => {
                            self.resync(ack);
                            Ok(())
                        }
                        Some(Err(err)) => Err(err),
                    }
                }
                Err(err) => Err(err),
            };
            match result {
                Ok(()) => delay = self.config.retry_initial,
                Err(err @ ControlError::Rejected { .. }) => self.reject(&err),
                Err(
                    err @ (ControlError::Unauthorized
                    | ControlError::Forbidden
                    | ControlError::NotFound),
                ) => {
                    self.abandon(&err);
                    return;
                }
                Err(err) => {
                    tracing::debug!(error = %err, retry_in = ?delay, "posting events failed");
                    if !self.pause(delay).await {
                        return;
                    }
                    delay = (delay * 2).min(self.config.retry_max);
                }
            }
        }
    }

    /// Posts the in-flight events (or none, to learn the acknowledged point) while still
    /// taking commands; `None` when stopped.
    async fn post(&mut self, probe: bool) -> Option<Result<i64, ControlError>> {
        let events: &[CallEvent] = if probe { &[] } else { &self.inflight };
        let post = self.control.post_events(&self.url, &self.token, events);
        tokio::pin!(post);
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return None,
                result = &mut post => return Some(result),
                () = self.intake.next() => {}
            }
        }
    }

    /// Sleeps while still taking commands; false when stopped.
    async fn pause(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return false,
                () = &mut sleep => return true,
                () = self.intake.next() => {}
            }
        }
    }

    fn number_next_batch(&mut self) {
        let size = if self.one_by_one > 0 {
            1
        } else {
            self.config.max_batch.max(1)
        };
        for event in self.intake.backlog.take(size) {
            self.inflight.push(CallEvent {
                seq: self.next_seq,
                at_ms: event.at_ms,
                kind: event.kind,
            });
            self.next_seq += 1;
        }
    }

    fn acknowledge(&mut self, ack: i64) {
        if ack >= self.next_seq {
            // Someone else posted events for this call, and ours with the same numbers
            // were skipped as duplicates: send ours again after theirs.
            tracing::warn!(
                acknowledged = ack,
                sent = self.next_seq - 1,
                "the control plane has events this reporter did not send; renumbering"
            );
            let again = self.inflight.drain(..).map(|e| Pending {
                at_ms: e.at_ms,
                kind: e.kind,
            });
            self.intake.backlog.restore(again);
            self.next_seq = ack + 1;
            return;
        }
        let before = self.inflight.len();
        self.inflight.retain(|e| e.seq > ack);
        let delivered = before - self.inflight.len();
        self.one_by_one = self.one_by_one.saturating_sub(delivered);
        self.intake
            .counters
            .delivered
            .fetch_add(delivered as u64, Ordering::Relaxed);
    }

    /// After a 409: `ack` is what the control plane has applied.
    fn resync(&mut self, ack: i64) {
        let first = self.inflight.first().map_or(self.next_seq, |e| e.seq);
        if ack >= first - 1 {
            self.acknowledge(ack);
            return;
        }
        // It lost events it had acknowledged (restored from a backup?). They are gone
        // from here too; number what is left right after what it has.
        tracing::error!(
            acknowledged = ack,
            lost = first - 1 - ack,
            "the control plane lost acknowledged events; continuing after what it has"
        );
        for (offset, event) in self.inflight.iter_mut().enumerate() {
            event.seq = ack + 1 + offset as i64;
        }
        self.next_seq = ack + 1 + self.inflight.len() as i64;
    }

    /// A 4xx other than 401/403/404/409: one of the in-flight events is invalid.
    fn reject(&mut self, err: &ControlError) {
        if self.inflight.len() > 1 {
            // Send them one at a time to find the bad one; the rest lose their numbers.
            self.one_by_one = self.inflight.len();
            let rest: Vec<Pending> = self
                .inflight
                .drain(1..)
                .map(|e| Pending {
                    at_ms: e.at_ms,
                    kind: e.kind,
                })
                .collect();
            self.intake.backlog.restore(rest.into_iter());
            self.next_seq = self.inflight[0].seq + 1;
        } else if let Some(event) = self.inflight.pop() {
            tracing::error!(seq = event.seq, event = ?event.kind, error = %err,
                "the control plane refuses this event; dropping it");
            self.intake
                .counters
                .rejected
                .fetch_add(1, Ordering::Relaxed);
            // The number was never applied: the next event takes it.
            self.next_seq = event.seq;
            self.one_by_one = self.one_by_one.saturating_sub(1);
        }
    }

    /// Credentials refused or the call gone: nothing can be delivered any more.
    fn abandon(&mut self, err: &ControlError) {
        let undelivered = self.inflight.len() + self.intake.backlog.take(usize::MAX).count();
        tracing::error!(error = %err, undelivered, "giving up on reporting this call's events");
        if let Some(reply) = self.intake.finishing.take() {
            let _ = reply.send(false);
        }
    }
}
