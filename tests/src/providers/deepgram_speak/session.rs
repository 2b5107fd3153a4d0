//! One Deepgram Aura WebSocket: `Speak` appends text, `Flush` synthesises what was
//! appended and streams it (then `Flushed`), `Clear` drops audio not yet sent (then
//! `Cleared`), `Close` finishes what is queued and closes.
//!
//! Audio is paced here rather than in the writer, so a `Clear` stops it within one chunk.

use crate::providers::faults::FaultKind;
use crate::providers::socket::{stall, Outbox};
use crate::providers::state::Shared;
use crate::providers::tts::format::AudioFormat;
use crate::providers::tts::playout::Pacing;
use crate::providers::tts::queue::{AudioQueue, Due};
use crate::providers::tts::text::to_ascii;
use crate::providers::tts::SocketGeneration;
use axum::extract::ws::{Message, WebSocket};
use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Deepgram's limit on text waiting for a flush.
const MAX_BUFFER: usize = 2000;

struct Speaker {
    shared: Arc<Shared>,
    outbox: Outbox,
    model: String,
    format: AudioFormat,
    text: String,
    queue: AudioQueue,
    flushes: u64,
    fault: Option<String>,
}

pub(super) async fn run(
    shared: Arc<Shared>,
    socket: WebSocket,
    model: String,
    format: AudioFormat,
    fault: Option<FaultKind>,
) {
    let (sink, stream) = socket.split();
    if fault == Some(FaultKind::Stall) {
        stall(&shared, stream).await;
        return;
    }
    let outbox = Outbox::start(sink, 0);
    let id = crate::providers::request_id();
    let hello = json!({"type": "Metadata", "request_id": id, "model_name": model,
                       "model_version": "emulator", "model_uuid": id});
    outbox.json(&hello).await;
    let drop_after = match fault {
        Some(FaultKind::Drop { after }) => Some(after),
        _ => None,
    };
    let speaker = Speaker {
        queue: AudioQueue::new(Pacing::from_config(&shared), format, drop_after),
        shared,
        outbox,
        model,
        format,
        text: String::new(),
        flushes: 0,
        fault: fault.map(FaultKind::label),
    };
    speaker.serve(stream).await;
}

impl Speaker {
    async fn serve(mut self, mut stream: futures::stream::SplitStream<WebSocket>) {
        let shared = self.shared.clone();
        let closed = shared.closed();
        tokio::pin!(closed);
        let mut closing = false;
        loop {
            if closing && self.queue.is_empty() {
                return self.outbox.close(1000, "").await;
            }
            let due = self.queue.due_at();
            tokio::select! {
                message = stream.next(), if !closing => match message {
                    Some(Ok(Message::Text(text))) => closing = self.control(text.as_str()).await,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return self.outbox.finish().await,
                    Some(Ok(_)) => {}
                },
                _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                    if !self.play_next().await {
                        return self.outbox.cut();
                    }
                }
                _ = &mut closed => return self.outbox.close(1001, "emulator shutting down").await,
            }
        }
    }

    /// Handles a control message; true for `Close`.
    async fn control(&mut self, text: &str) -> bool {
        let message: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        match message["type"].as_str() {
            Some("Speak") => {
                let text = message["text"].as_str().unwrap_or_default();
                if self.text.len() + text.len() > MAX_BUFFER {
                    self.warn("TEXT_TOO_LONG", "text buffer over 2000 characters")
                        .await;
                } else {
                    self.text.push_str(text);
                }
            }
            Some("Flush") => self.flush().await,
            Some("Clear") => {
                self.queue.clear();
                self.text.clear();
                let cleared = json!({"type": "Cleared", "sequence_id": self.flushes});
                self.outbox.json(&cleared).await;
            }
            Some("Close") => return true,
            _ => self.warn("UNKNOWN_MESSAGE", "unknown message type").await,
        }
        false
    }

    async fn warn(&self, code: &str, message: &str) {
        let warning = json!({"type": "Warning", "warn_code": code, "warn_msg": message});
        self.outbox.json(&warning).await;
    }

    async fn flush(&mut self) {
        let seq = self.flushes;
        self.flushes += 1;
        let asked = std::mem::take(&mut self.text);
        if !asked.trim().is_empty() {
            match to_ascii(&asked) {
                Ok(ascii) => {
                    let generation = SocketGeneration {
                        provider: "deepgram",
                        asked,
                        ascii: &ascii,
                        voice: &self.model,
                        model: Some(self.model.clone()),
                        format: self.format,
                        fault: self.fault.clone(),
                    };
                    if let Some((rendered, record)) = generation.render(&self.shared).await {
                        self.queue.push_audio(seq, rendered, record);
                    }
                }
                Err(e) => self.warn("UNSUPPORTED_TEXT", &e.to_string()).await,
            }
        }
        self.queue.push_marker(seq);
    }

    /// Sends what is due; false when an injected drop cuts the connection.
    async fn play_next(&mut self) -> bool {
        match self.queue.next() {
            Some(Due::Audio { bytes, cut }) => {
                self.outbox.send(Message::Binary(bytes)).await;
                if cut {
                    // Let the last chunk reach the client before the cut.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    return false;
                }
            }
            Some(Due::Marker(seq)) => {
                let flushed = json!({"type": "Flushed", "sequence_id": seq});
                self.outbox.json(&flushed).await;
            }
            None => {}
        }
        true
    }
}
