//! Where a session's events go: the control plane (through the ordered reporter) or, in
//! standalone mode, the log.

use async_trait::async_trait;
use shared::events::EventKind;
use std::time::Duration;

/// A call's event sink.
#[async_trait]
pub trait CallEvents: Send {
    /// Queues an event that happened `at_ms` after the call's media started.
    async fn report(&mut self, at_ms: i64, kind: EventKind);
    /// Delivers everything queued, waiting at most `wait`; false if some was not delivered.
    async fn finish(&mut self, wait: Duration) -> bool;
}

/// Standalone mode: events are logged, one JSON line each.
#[derive(Debug, Default)]
pub struct LogEvents {
    pub call: String,
}

#[async_trait]
impl CallEvents for LogEvents {
    async fn report(&mut self, at_ms: i64, kind: EventKind) {
        let json = serde_json::to_string(&kind).unwrap_or_default();
        tracing::info!(call = %self.call, at_ms, event = %json, "call event");
    }

    async fn finish(&mut self, _wait: Duration) -> bool {
        true
    }
}
