//! Server-sent events as OpenAI sends them: `data: {json}\n\n` per chunk, `data: [DONE]`
//! last; paced by the configured time to first token and delay per token.

use crate::providers::report::LlmRequestReport;
use crate::providers::state::Shared;
use bytes::Bytes;
use futures::Stream;
use std::sync::Arc;

/// The event that ends every stream.
pub(crate) const DONE: &str = "data: [DONE]\n\n";

/// One event carrying `value`.
pub(crate) fn event(value: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// A chat request's line in the report; counts are written when dropped, so a client that
/// hangs up mid-stream still leaves an accurate record.
pub(crate) struct LlmRecord {
    shared: Arc<Shared>,
    index: usize,
    sent: u64,
    completed: bool,
}

impl LlmRecord {
    pub(crate) fn open(shared: &Arc<Shared>, report: LlmRequestReport) -> Self {
        let index = {
            let mut all = shared.report();
            all.llm.push(report);
            all.llm.len() - 1
        };
        LlmRecord {
            shared: shared.clone(),
            index,
            sent: 0,
            completed: false,
        }
    }

    /// `n` more units (chunks, or bytes unstreamed) went out.
    pub(crate) fn sent(&mut self, n: u64) {
        self.sent += n;
    }

    pub(crate) fn complete(&mut self) {
        self.completed = true;
    }
}

impl Drop for LlmRecord {
    fn drop(&mut self) {
        let (sent, completed) = (self.sent, self.completed);
        if let Some(r) = self.shared.report().llm.get_mut(self.index) {
            r.sent = sent;
            r.completed = completed;
        }
    }
}

/// How the events are paced and cut.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    pub first_ms: u64,
    pub each_ms: u64,
    /// Cut the connection after this many events (an injected drop).
    pub drop_after: Option<u64>,
}

struct State {
    shared: Arc<Shared>,
    events: std::vec::IntoIter<Bytes>,
    pace: Pace,
    n: u64,
    done: bool,
    record: LlmRecord,
}

/// The body: each event after its delay; an error (aborting the connection) when cut or
/// on shutdown.
pub(crate) fn body(
    shared: Arc<Shared>,
    events: Vec<Bytes>,
    pace: Pace,
    record: LlmRecord,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let state = State {
        shared,
        events: events.into_iter(),
        pace,
        n: 0,
        done: false,
        record,
    };
    futures::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        if s.pace.drop_after.is_some_and(|limit| s.n >= limit) {
            s.done = true;
            return Some((Err(crate::providers::cut_connection().await), s));
        }
        let Some(event) = s.events.next() else {
            s.record.complete();
            return None;
        };
        let wait = if s.n == 0 {
            s.pace.first_ms
        } else {
            s.pace.each_ms
        };
        if !s.shared.sleep_ms(wait).await {
            s.done = true;
            return Some((Err(std::io::Error::other("emulator shutting down")), s));
        }
        s.n += 1;
        s.record.sent(1);
        Some((Ok(event), s))
    })
}
