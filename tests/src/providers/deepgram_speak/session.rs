//! One Deepgram Aura WebSocket: `Speak` appends text, `Flush` synthesises what was
//! appended and streams it (then `Flushed`), `Clear` drops audio not yet sent (then
//! `Cleared`), `Close` finishes what is queued and closes.
//!
//! Audio is paced here rather than in the writer, so a `Clear` stops it within one chunk.

use crate::providers::faults::FaultKind;
use crate::providers::report::TtsRequestReport;
use crate::providers::socket::{stall, Outbox};
use crate::providers::state::Shared;
use crate::providers::tts::format::{render, AudioFormat};
use crate::providers::tts::playout::{Pacing, TtsRecord};
use crate::providers::tts::text::to_ascii;
use axum::extract::ws::{Message, WebSocket};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Deepgram's limit on text waiting for a flush.
const MAX_BUFFER: usize = 2000;

enum Item {
    Audio { flush: u64, bytes: Bytes },
    Flushed(u64),
}

struct Speaker {
    shared: Arc<Shared>,
    outbox: Outbox,
    model: String,
    format: AudioFormat,
    pacing: Pacing,
    text: String,
    queue: VecDeque<Item>,
    next_due: Instant,
    flushes: u64,
    records: HashMap<u64, TtsRecord>,
    /// Audio bytes sent so far, and where an injected drop cuts.
    sent: u64,
    drop_after: Option<u64>,
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
        Some(FaultKind::Drop { after }) => Some((after as f64 * format.bytes_per_ms()) as u64),
        _ => None,
    };
    let speaker = Speaker {
        pacing: Pacing::from_config(&shared),
        shared,
        outbox,
        model,
        format,
        text: String::new(),
        queue: VecDeque::new(),
        next_due: Instant::now(),
        flushes: 0,
        records: HashMap::new(),
        sent: 0,
        drop_after,
        fault: fault.map(FaultKind::label),
    };
    speaker.serve(stream).await;
}

impl Speaker {
    async fn serve(mut self, mut stream: futures::stream::SplitStream<WebSocket>) {
        let mut closing = false;
        loop {
            if closing && self.queue.is_empty() {
                self.outbox.close(1000, "").await;
                return;
            }
            let due = self.next_due;
            let has_audio = !self.queue.is_empty();
            tokio::select! {
                message = stream.next(), if !closing => match message {
                    Some(Ok(Message::Text(text))) => {
                        if self.control(text.as_str()).await {
                            closing = true;
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return self.outbox.cut(),
                    Some(Ok(_)) => {}
                },
                _ = tokio::time::sleep_until(due), if has_audio => {
                    if !self.play_next().await {
                        return self.outbox.cut();
                    }
                }
                _ = self.shared.closed() => {
                    return self.outbox.close(1001, "emulator shutting down").await;
                }
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
                for (_, mut record) in self.records.drain() {
                    record.clear();
                }
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
                Ok(ascii) => self.enqueue(seq, asked, &ascii).await,
                Err(e) => self.warn("UNSUPPORTED_TEXT", &e.to_string()).await,
            }
        }
        self.queue.push_back(Item::Flushed(seq));
    }

    async fn enqueue(&mut self, seq: u64, asked: String, ascii: &str) {
        let Ok(rendered) = render(&self.shared.cache, ascii, self.format).await else {
            return;
        };
        let record = TtsRecord::open(
            &self.shared,
            TtsRequestReport {
                provider: "deepgram".into(),
                transport: "websocket".into(),
                received_at: Some(chrono::Utc::now()),
                text: asked,
                voice: self.model.clone(),
                model: Some(self.model.clone()),
                format: self.format.label(),
                audio_ms: rendered.audio_ms,
                fault: self.fault.clone(),
                ..TtsRequestReport::default()
            },
        );
        self.records.insert(seq, record);
        if self.queue.is_empty() {
            self.next_due = Instant::now() + Duration::from_millis(self.pacing.first_byte_ms);
        }
        let chunk = self.pacing.chunk_bytes(self.format);
        let audio = rendered.audio;
        let mut at = 0;
        while at < audio.len() {
            let end = (at + chunk).min(audio.len());
            self.queue.push_back(Item::Audio {
                flush: seq,
                bytes: audio.slice(at..end),
            });
            at = end;
        }
    }

    /// Sends the next queued item; false when an injected drop cuts the connection.
    async fn play_next(&mut self) -> bool {
        let Some(item) = self.queue.pop_front() else {
            return true;
        };
        match item {
            Item::Audio { flush, mut bytes } => {
                if let Some(limit) = self.drop_after {
                    let room = limit.saturating_sub(self.sent) as usize;
                    if bytes.len() >= room {
                        bytes.truncate(room);
                        self.outbox.send(Message::Binary(bytes.clone())).await;
                        self.sent += bytes.len() as u64;
                        if let Some(r) = self.records.get_mut(&flush) {
                            r.sent(bytes.len());
                        }
                        // Let the partial chunk reach the client before the cut.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        return false;
                    }
                }
                self.sent += bytes.len() as u64;
                if let Some(r) = self.records.get_mut(&flush) {
                    r.sent(bytes.len());
                }
                self.outbox.send(Message::Binary(bytes)).await;
                self.next_due += self.pacing.offset(1);
                if self.pacing.speed <= 0.0 {
                    self.next_due = Instant::now();
                }
            }
            Item::Flushed(seq) => {
                if let Some(mut record) = self.records.remove(&seq) {
                    record.complete();
                }
                let flushed = json!({"type": "Flushed", "sequence_id": seq});
                self.outbox.json(&flushed).await;
            }
        }
        true
    }
}
