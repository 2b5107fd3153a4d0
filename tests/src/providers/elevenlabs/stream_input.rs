//! ElevenLabs' `stream-input` WebSocket:
//! `/v1/text-to-speech/{voice_id}/stream-input?model_id=..&output_format=ulaw_8000`.
//!
//! The first message opens the stream (`{"text": " ", "voice_settings", "generation_config",
//! "xi_api_key"?}`); text chunks follow (`{"text": "Hello ", "flush"?}`); `{"text": ""}` ends
//! the input. Text is buffered and spoken when a flush asks, when the buffer reaches the
//! `chunk_length_schedule` (default 120, 160, 250, 290 characters; cut at the last space so
//! no word is split between utterances), or at the end. Audio comes back as
//! `{"audio": "<base64>", "isFinal": null, ...}` and the stream ends with `{"isFinal": true}`.
//! The key may be in the `xi-api-key` header or in the first message.

use super::output_format;
use crate::providers::config::Provider;
use crate::providers::errors::ApiError;
use crate::providers::faults::{FaultKind, Service};
use crate::providers::gate::presented_key;
use crate::providers::socket::{socket_fault, stall, Outbox};
use crate::providers::state::Shared;
use crate::providers::tts::format::AudioFormat;
use crate::providers::tts::playout::Pacing;
use crate::providers::tts::queue::{AudioQueue, Due};
use crate::providers::tts::text::to_ascii;
use crate::providers::tts::SocketGeneration;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// ElevenLabs' default generation thresholds, in characters.
const SCHEDULE: [usize; 4] = [120, 160, 250, 290];
/// The marker queued behind the last audio once the input has ended.
const END: u64 = u64::MAX;

#[derive(Deserialize)]
pub(super) struct StreamQuery {
    model_id: Option<String>,
    output_format: Option<String>,
    inactivity_timeout: Option<u64>,
}

pub(super) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    Path(voice): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let service = Service::TtsElevenlabs;
    let format = output_format(&shared, service, query.output_format.as_deref())?;
    // Browsers cannot set headers: then the key comes in the first message.
    let header_key = presented_key(Provider::ElevenLabs, &headers).map(String::from);
    if header_key.is_some() {
        crate::providers::gate::authorize(&shared, service, &headers)?;
    }
    let fault = socket_fault(&shared, service).await?;
    let session = Session {
        shared,
        voice,
        model: query.model_id,
        format,
        idle: Duration::from_secs(query.inactivity_timeout.unwrap_or(20).clamp(5, 180)),
        fault: fault.map(FaultKind::label),
        authorized: header_key.is_some(),
    };
    Ok(ws
        .read_buffer_size(4096)
        .on_upgrade(move |socket| session.run(socket, fault))
        .into_response())
}

struct Session {
    shared: Arc<Shared>,
    voice: String,
    model: Option<String>,
    format: AudioFormat,
    idle: Duration,
    fault: Option<String>,
    authorized: bool,
}

/// What the session is doing with its text.
struct Input {
    buffer: String,
    schedule: Vec<usize>,
    generations: u64,
    opened: bool,
    ended: bool,
    /// Errors to report to the client (text the speech code cannot say).
    errors: Vec<String>,
}

impl Session {
    async fn run(mut self, socket: WebSocket, fault: Option<FaultKind>) {
        let (sink, mut stream) = socket.split();
        if fault == Some(FaultKind::Stall) {
            return stall(&self.shared, stream).await;
        }
        let outbox = Outbox::start(sink, 0);
        let drop_after = match fault {
            Some(FaultKind::Drop { after }) => Some(after),
            _ => None,
        };
        let mut queue = AudioQueue::new(Pacing::from_config(&self.shared), self.format, drop_after);
        let mut input = Input {
            buffer: String::new(),
            schedule: SCHEDULE.to_vec(),
            generations: 0,
            opened: false,
            ended: false,
            errors: Vec::new(),
        };
        let shared = self.shared.clone();
        let closed = shared.closed();
        tokio::pin!(closed);
        let idle = tokio::time::sleep(self.idle);
        tokio::pin!(idle);
        loop {
            if input.ended && queue.is_empty() {
                outbox.json(&json!({"isFinal": true})).await;
                return outbox.close(1000, "").await;
            }
            let due = queue.due_at();
            tokio::select! {
                message = stream.next(), if !input.ended => match message {
                    Some(Ok(Message::Text(text))) => {
                        idle.as_mut().reset(tokio::time::Instant::now() + self.idle);
                        let Ok(message) = serde_json::from_str::<Value>(text.as_str()) else {
                            outbox.json(&json!({"message": "invalid JSON", "error": "invalid_message"})).await;
                            continue;
                        };
                        if let Err(reason) = self.receive(&message, &mut input, &mut queue).await {
                            outbox.json(&json!({"message": reason, "error": "invalid_api_key", "code": 1008})).await;
                            return outbox.close(1008, reason).await;
                        }
                        for error in input.errors.drain(..) {
                            outbox.json(&json!({"message": error, "error": "invalid_text"})).await;
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return outbox.finish().await,
                    Some(Ok(_)) => {}
                },
                _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                    match queue.next() {
                        Some(Due::Audio { bytes, cut }) => {
                            let audio = base64::engine::general_purpose::STANDARD.encode(&bytes);
                            let message = json!({"audio": audio, "isFinal": null,
                                                 "normalizedAlignment": null, "alignment": null});
                            outbox.json(&message).await;
                            if cut {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                return outbox.cut();
                            }
                        }
                        Some(Due::Marker(_)) | None => {}
                    }
                }
                _ = &mut idle, if !input.ended && queue.is_empty() => {
                    let reason = "Input timeout exceeded: no text received within the inactivity timeout";
                    return outbox.close(1008, reason).await;
                }
                _ = &mut closed => return outbox.close(1001, "emulator shutting down").await,
            }
        }
    }

    /// Takes one message; the error is a refused key.
    async fn receive(
        &mut self,
        message: &Value,
        input: &mut Input,
        queue: &mut AudioQueue,
    ) -> Result<(), &'static str> {
        if !input.opened {
            input.opened = true;
            if !self.authorized {
                let key = message["xi_api_key"].as_str();
                if !self.shared.config.keys.accepts(Provider::ElevenLabs, key) {
                    self.shared.refused(
                        Service::TtsElevenlabs,
                        401,
                        "API key missing or not accepted",
                    );
                    return Err("Invalid API key");
                }
                self.authorized = true;
            }
            if let Some(schedule) = message["generation_config"]["chunk_length_schedule"].as_array()
            {
                let schedule: Vec<usize> = schedule
                    .iter()
                    .filter_map(|v| v.as_u64())
                    .map(|v| v as usize)
                    .collect();
                if !schedule.is_empty() {
                    input.schedule = schedule;
                }
            }
        }
        let text = message["text"].as_str().unwrap_or_default();
        if text.is_empty() {
            let rest = std::mem::take(&mut input.buffer);
            self.generate(rest, input, queue).await;
            queue.push_marker(END);
            input.ended = true;
            return Ok(());
        }
        input.buffer.push_str(text);
        if message["flush"] == true {
            let all = std::mem::take(&mut input.buffer);
            self.generate(all, input, queue).await;
            return Ok(());
        }
        let index = (input.generations as usize).min(input.schedule.len() - 1);
        if input.buffer.chars().count() >= input.schedule[index] {
            let cut = input
                .buffer
                .rfind(char::is_whitespace)
                .filter(|&i| i > 0)
                .unwrap_or(input.buffer.len());
            let rest = input.buffer.split_off(cut);
            let ready = std::mem::replace(&mut input.buffer, rest);
            self.generate(ready, input, queue).await;
        }
        Ok(())
    }

    async fn generate(&self, text: String, input: &mut Input, queue: &mut AudioQueue) {
        if text.trim().is_empty() {
            return;
        }
        let generation = input.generations;
        input.generations += 1;
        // The speech code does not say the spaces around a chunk; a test compares words.
        let asked = text.trim().to_string();
        let ascii = match to_ascii(&asked) {
            Ok(ascii) => ascii,
            Err(e) => return input.errors.push(e.to_string()),
        };
        let request = SocketGeneration {
            provider: "elevenlabs",
            asked,
            ascii: &ascii,
            voice: &self.voice,
            model: self.model.clone(),
            format: self.format,
            fault: self.fault.clone(),
        };
        if let Some((rendered, record)) = request.render(&self.shared).await {
            queue.push_audio(generation, rendered, record);
            queue.push_marker(generation);
        }
    }
}
