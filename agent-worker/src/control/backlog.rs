//! The reporter's bounded backlog of events not yet sent. While the control plane is
//! down a call keeps talking, so the backlog may fill: then the oldest transcript and
//! tool-call events go first (the transcript is a convenience; the control plane can
//! live without a few lines), and the events that carry the call's result or ask the
//! control plane to act are never dropped.

use std::collections::VecDeque;

use shared::events::EventKind;

/// An event waiting for its sequence number, which it gets when it is sent: so a
/// dropped event leaves no gap in the numbers the control plane sees.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pending {
    pub(super) at_ms: i64,
    pub(super) kind: EventKind,
}

/// Whether an event may be dropped when the backlog is full.
pub(super) fn droppable(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Transcript { .. } | EventKind::ToolCall { .. }
    )
}

#[derive(Debug)]
pub(super) struct Backlog {
    events: VecDeque<Pending>,
    max: usize,
}

impl Backlog {
    /// A backlog that keeps at most `max` events unless more of them are important.
    pub(super) fn new(max: usize) -> Self {
        Self {
            events: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// Adds an event at the back; returns the event dropped to make room, if any.
    pub(super) fn push(&mut self, event: Pending) -> Option<Pending> {
        self.events.push_back(event);
        if self.events.len() <= self.max {
            return None;
        }
        let oldest = self.events.iter().position(|e| droppable(&e.kind))?;
        self.events.remove(oldest)
    }

    /// Puts events that were taken but not delivered back at the front, in order.
    pub(super) fn restore(&mut self, events: impl DoubleEndedIterator<Item = Pending>) {
        for event in events.rev() {
            self.events.push_front(event);
        }
    }

    /// Takes up to `n` events from the front.
    pub(super) fn take(&mut self, n: usize) -> impl Iterator<Item = Pending> + '_ {
        let n = n.min(self.events.len());
        self.events.drain(..n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::events::Speaker;
    use shared::CallOutcome;

    fn line(n: i64) -> Pending {
        Pending {
            at_ms: n,
            kind: EventKind::Transcript {
                speaker: Speaker::Callee,
                text: format!("line {n}"),
                start_ms: n,
                end_ms: n,
                confidence: None,
            },
        }
    }

    fn important(at_ms: i64, kind: EventKind) -> Pending {
        Pending { at_ms, kind }
    }

    #[test]
    fn a_full_backlog_drops_the_oldest_transcripts_and_never_the_results() {
        let mut backlog = Backlog::new(4);
        let outcome = important(
            0,
            EventKind::Outcome {
                outcome: CallOutcome::Interested,
                notes: None,
            },
        );
        assert_eq!(backlog.push(outcome.clone()), None);
        for n in 1..=3 {
            assert_eq!(backlog.push(line(n)), None);
        }
        assert_eq!(backlog.push(line(4)), Some(line(1)));
        let tool = important(
            5,
            EventKind::ToolCall {
                name: "lookup".into(),
                arguments: serde_json::json!({}),
            },
        );
        assert_eq!(backlog.push(tool), Some(line(2)));
        let ended = important(
            6,
            EventKind::Ended {
                reason: "done".into(),
            },
        );
        assert_eq!(backlog.push(ended.clone()), Some(line(3)));
        let kept: Vec<i64> = backlog.take(10).map(|e| e.at_ms).collect();
        assert_eq!(kept, vec![0, 4, 5, 6]);

        // Over the bound with nothing droppable, everything is kept.
        let mut backlog = Backlog::new(1);
        assert_eq!(backlog.push(outcome), None);
        assert_eq!(backlog.push(ended), None);
        assert_eq!(backlog.take(10).count(), 2);
    }

    #[test]
    fn restored_events_go_back_in_front_in_order() {
        let mut backlog = Backlog::new(10);
        backlog.push(line(3));
        backlog.restore(vec![line(1), line(2)].into_iter());
        let order: Vec<i64> = backlog.take(5).map(|e| e.at_ms).collect();
        assert_eq!(order, vec![1, 2, 3]);
    }
}
