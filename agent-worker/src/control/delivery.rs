//! The reporter's background task: takes events from the channel into the backlog,
//! numbers them as they are first sent, posts them in order and deals with every answer
//! (acknowledged, conflict, refused, unavailable, credentials gone).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use shared::events::CallEvent;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::backlog::{Backlog, Pending};
use super::client::{ControlError, ControlPlane};
use super::reporter::ReporterConfig;

/// Shared with the handles, for their stats.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) reported: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) rejected: AtomicU64,
}

/// What the handles send the task.
pub(super) enum Command {
    Event(Pending),
    /// Answer once everything is acknowledged (true) or can never be (false).
    Finish(oneshot::Sender<bool>),
}

/// The task's side of the channel.
pub(super) struct Intake {
    pub(super) rx: mpsc::Receiver<Command>,
    /// False once every handle is gone: what is left is still delivered.
    pub(super) open: bool,
    pub(super) backlog: Backlog,
    pub(super) finishing: Option<oneshot::Sender<bool>>,
    pub(super) counters: Arc<Counters>,
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
pub(super) struct Delivery {
    pub(super) control: ControlPlane,
    pub(super) url: String,
    pub(super) token: SecretString,
    pub(super) config: ReporterConfig,
    pub(super) intake: Intake,
    /// Numbered events sent but not yet acknowledged, in order.
    pub(super) inflight: Vec<CallEvent>,
    pub(super) next_seq: i64,
    /// Events still to send one per post, to find which one the control plane refuses.
    pub(super) one_by_one: usize,
    pub(super) stop: CancellationToken,
}

impl Delivery {
    pub(super) async fn run(mut self) {
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
            tracing::error!(seq = event.seq, event = event.kind.name(), error = %err,
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
