//! What both Deepgram WebSockets share: the fault check before the upgrade, a writer task
//! that can hold messages back by a fixed delay (keeping their order), and the stall.

use super::errors::ApiError;
use super::faults::{FaultKind, Service};
use super::gate::authorize;
use super::state::Shared;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::http::HeaderMap;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Messages waiting for the writer: enough for a burst of results, small enough that a
/// client that stops reading soon stops the session reading too.
const OUTBOX: usize = 64;

/// Checks the key and applies `status` and `slow_first_byte` faults before the upgrade;
/// `stall` and `drop` are returned for the session to carry out.
pub(crate) async fn admit_socket(
    shared: &Shared,
    service: Service,
    headers: &HeaderMap,
) -> Result<Option<FaultKind>, ApiError> {
    authorize(shared, service, headers)?;
    socket_fault(shared, service).await
}

/// [`admit_socket`] without the key check, for sockets whose key may come in the first
/// message instead of a header.
pub(crate) async fn socket_fault(
    shared: &Shared,
    service: Service,
) -> Result<Option<FaultKind>, ApiError> {
    let fault = shared.take_fault(service);
    match fault {
        Some(FaultKind::Status { code }) => {
            shared.refused(service, code, format!("status {code}"));
            Err(ApiError::injected(service.api(), code))
        }
        Some(FaultKind::SlowFirstByte { ms }) => {
            shared.sleep_ms(ms).await;
            Ok(fault)
        }
        other => Ok(other),
    }
}

/// Accepted, then silent: reads and discards until the client or the emulator ends it.
pub(crate) async fn stall(shared: &Shared, mut stream: SplitStream<WebSocket>) {
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = shared.closed() => return,
        }
    }
}

/// The sending half, behind a task.
pub(crate) struct Outbox {
    tx: mpsc::Sender<(Instant, Message)>,
    delay: Duration,
    writer: JoinHandle<()>,
}

impl Outbox {
    /// Starts the writer; every message goes out `delay_ms` after it was queued.
    pub(crate) fn start(mut sink: SplitSink<WebSocket, Message>, delay_ms: u64) -> Self {
        let (tx, mut rx) = mpsc::channel::<(Instant, Message)>(OUTBOX);
        let writer = tokio::spawn(async move {
            while let Some((due, message)) = rx.recv().await {
                tokio::time::sleep_until(due).await;
                let closing = matches!(message, Message::Close(_));
                if sink.send(message).await.is_err() || closing {
                    break;
                }
            }
            let _ = sink.flush().await;
        });
        Outbox {
            tx,
            delay: Duration::from_millis(delay_ms),
            writer,
        }
    }

    /// Queues a message; false once the connection is gone.
    pub(crate) async fn send(&self, message: Message) -> bool {
        let due = Instant::now() + self.delay;
        self.tx.send((due, message)).await.is_ok()
    }

    /// Queues a JSON text message.
    pub(crate) async fn json(&self, value: &serde_json::Value) -> bool {
        self.send(Message::Text(value.to_string().into())).await
    }

    /// Sends a close frame after what is queued, and waits for it to go out.
    pub(crate) async fn close(self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        self.send(Message::Close(Some(frame))).await;
        drop(self.tx);
        let _ = tokio::time::timeout(Duration::from_secs(5) + self.delay, self.writer).await;
    }

    /// The client closed: sends what is queued (with the close reply the WebSocket layer
    /// queued itself) and ends.
    pub(crate) async fn finish(self) {
        drop(self.tx);
        let _ = tokio::time::timeout(Duration::from_secs(2) + self.delay, self.writer).await;
    }

    /// Drops the connection at once, queued messages and all, without a close frame.
    pub(crate) fn cut(self) {
        self.writer.abort();
    }
}
