//! One live transcription socket: reads audio and control messages, feeds the transcriber,
//! sends what it says, and keeps the session's line in the report.

use super::input::AudioIn;
use super::messages::{self, Session};
use super::params::ListenParams;
use super::transcriber::{Options, Output, Transcriber};
use crate::providers::faults::FaultKind;
use crate::providers::report::{SttSessionReport, SttTranscript, Undecodable};
use crate::providers::socket::{stall, Outbox};
use crate::providers::state::Shared;
use axum::extract::ws::{Message, WebSocket};
use chrono::Utc;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Deepgram's close reason when nothing arrives in time.
const NET_0001: &str = "NET-0001: Deepgram did not receive audio data or a text message \
                        within the timeout window. See https://dpgr.am/net0001";
/// Audio counters in the report are refreshed this often (frames), not on every frame.
const REPORT_EVERY: u64 = 50;

/// The session's line in the report.
struct Record {
    shared: Arc<Shared>,
    index: usize,
}

impl Record {
    fn update(&self, f: impl FnOnce(&mut SttSessionReport)) {
        if let Some(r) = self.shared.report().stt.get_mut(self.index) {
            f(r);
        }
    }
}

/// Why the loop ended.
enum End {
    CloseStream,
    ClientClosed,
    IdleTimeout,
    FaultDrop,
    Shutdown,
}

pub(super) async fn run(
    shared: Arc<Shared>,
    socket: WebSocket,
    params: ListenParams,
    fault: Option<FaultKind>,
    request_id: String,
) {
    let index = {
        let mut report = shared.report();
        report.stt.push(SttSessionReport {
            request_id: request_id.clone(),
            opened_at: Some(Utc::now()),
            query: params.raw.clone(),
            encoding: format!("{:?}", params.encoding).to_lowercase(),
            sample_rate: params.sample_rate,
            fault: fault.map(FaultKind::label),
            ..SttSessionReport::default()
        });
        report.stt.len() - 1
    };
    let record = Record {
        shared: shared.clone(),
        index,
    };
    let (sink, stream) = socket.split();
    if fault == Some(FaultKind::Stall) {
        stall(&shared, stream).await;
        record.update(|r| {
            r.end = Some("fault_stall".into());
            r.closed_at = Some(Utc::now());
        });
        return;
    }
    let outbox = Outbox::start(sink, shared.config.stt.result_delay_ms);
    let session = Session {
        request_id,
        model: params.model.clone(),
        model_uuid: crate::providers::request_id(),
        rate: params.sample_rate,
    };
    let drop_after = match fault {
        Some(FaultKind::Drop { after }) => Some(after * u64::from(params.sample_rate) / 1000),
        _ => None,
    };
    let mut state = Loop {
        shared: shared.clone(),
        record,
        outbox,
        session,
        transcriber: Transcriber::new(Options {
            rate: params.sample_rate,
            interim_results: params.interim_results,
            endpointing_ms: params.endpointing_ms,
            utterance_end_ms: params.utterance_end_ms,
            vad_events: params.vad_events,
            silence_gate: shared.config.stt.silence_gate,
        }),
        input: AudioIn::new(params.encoding, params.channels),
        drop_after,
        frames: 0,
        keepalives: 0,
        finalizes: 0,
    };
    let end = state.serve(stream).await;
    state.finish(end).await;
}

struct Loop {
    shared: Arc<Shared>,
    record: Record,
    outbox: Outbox,
    session: Session,
    transcriber: Transcriber,
    input: AudioIn,
    /// Samples after which the connection is cut (an injected drop).
    drop_after: Option<u64>,
    frames: u64,
    keepalives: u64,
    finalizes: u64,
}

impl Loop {
    async fn serve(&mut self, mut stream: futures::stream::SplitStream<WebSocket>) -> End {
        let idle = Duration::from_millis(self.shared.config.stt.idle_timeout_ms);
        // One timer and one shutdown watch for the whole session: re-arming them on every
        // 20 ms frame costs more than decoding the frame. The timer fires at the deadline
        // as it stood when armed; activity since then only pushes the check later.
        let mut last_activity = Instant::now();
        let idle_check = tokio::time::sleep(idle);
        tokio::pin!(idle_check);
        let shared = self.shared.clone();
        let closed = shared.closed();
        tokio::pin!(closed);
        loop {
            let message = tokio::select! {
                message = stream.next() => message,
                _ = &mut idle_check => {
                    let deadline = last_activity + idle;
                    if Instant::now() >= deadline {
                        return End::IdleTimeout;
                    }
                    idle_check.as_mut().reset(deadline);
                    continue;
                }
                _ = &mut closed => return End::Shutdown,
            };
            match message {
                Some(Ok(Message::Binary(bytes))) => {
                    // An empty frame is Deepgram's old way of saying CloseStream.
                    if bytes.is_empty() {
                        return End::CloseStream;
                    }
                    last_activity = Instant::now();
                    if self.audio(&bytes).await {
                        return End::FaultDrop;
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    last_activity = Instant::now();
                    let kind = serde_json::from_str::<serde_json::Value>(text.as_str())
                        .ok()
                        .and_then(|v| v["type"].as_str().map(String::from));
                    match kind.as_deref() {
                        Some("KeepAlive") => self.keepalives += 1,
                        Some("Finalize") => {
                            self.finalizes += 1;
                            let outputs = self.transcriber.finalize();
                            self.send(outputs).await;
                        }
                        Some("CloseStream") => return End::CloseStream,
                        _ => tracing::debug!("stt: ignoring text frame {text:.80}"),
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return End::ClientClosed,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Handles a binary frame; true when an injected drop says to cut now.
    async fn audio(&mut self, bytes: &[u8]) -> bool {
        self.frames += 1;
        let mut samples = self.input.push(bytes);
        let mut cut = false;
        if let Some(limit) = self.drop_after {
            let room = limit.saturating_sub(self.transcriber.received()) as usize;
            if samples.len() >= room {
                samples.truncate(room);
                cut = true;
            }
        }
        let outputs = self.transcriber.push(&samples);
        self.send(outputs).await;
        if self.frames % REPORT_EVERY == 0 {
            self.counters();
        }
        cut
    }

    fn counters(&self) {
        let seconds = self.input.bytes() as f64 / self.input.bytes_per_second(self.session.rate);
        let (frames, keepalives, finalizes) = (self.frames, self.keepalives, self.finalizes);
        self.record.update(|r| {
            r.audio_seconds = seconds;
            r.frames = frames;
            r.keepalives = keepalives;
            r.finalizes = finalizes;
        });
    }

    async fn send(&self, outputs: Vec<Output>) {
        let s = &self.session;
        let sent_at = Utc::now()
            + chrono::Duration::milliseconds(self.shared.config.stt.result_delay_ms as i64);
        for output in outputs {
            let message = match &output {
                Output::SpeechStarted { at } => {
                    self.record.update(|r| r.speech_started.push(s.secs(*at)));
                    messages::speech_started(s, *at)
                }
                Output::Results(results) => {
                    let heard = &results.heard;
                    let line = SttTranscript {
                        text: heard
                            .iter()
                            .map(|h| h.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                        start: s.secs(results.start),
                        end: s.secs(results.end),
                        speech_start: heard.first().map(|h| s.secs(h.start)),
                        speech_end: heard.last().map(|h| s.secs(h.end)),
                        is_final: results.is_final,
                        speech_final: results.speech_final,
                        from_finalize: results.from_finalize,
                        sent_at,
                    };
                    self.record.update(|r| r.transcripts.push(line));
                    messages::results(s, results)
                }
                Output::UtteranceEnd { last_word_end } => {
                    self.record
                        .update(|r| r.utterance_ends.push(s.secs(*last_word_end)));
                    messages::utterance_end(s, *last_word_end)
                }
                Output::Undecodable(e) => {
                    let line = Undecodable {
                        fault: format!("{:?}", e.fault),
                        start: s.secs(e.start_sample),
                        end: s.secs(e.end_sample),
                    };
                    self.record.update(|r| r.undecodable.push(line));
                    continue;
                }
            };
            if !self.outbox.json(&message).await {
                return;
            }
        }
    }

    async fn finish(mut self, end: End) {
        if let End::CloseStream = end {
            let outputs = self.transcriber.close();
            self.send(outputs).await;
            let seconds = self.transcriber.received() as f64 / f64::from(self.session.rate);
            self.outbox
                .json(&messages::metadata(&self.session, seconds))
                .await;
        }
        self.counters();
        let label = match end {
            End::CloseStream => "close_stream",
            End::IdleTimeout => "idle_timeout",
            End::Shutdown => "shutdown",
            End::ClientClosed => "client_closed",
            End::FaultDrop => "fault_drop",
        };
        tracing::debug!(
            skipped = self.transcriber.skipped(),
            "stt session ended: {label}"
        );
        self.record.update(|r| {
            r.end = Some(label.into());
            r.closed_at = Some(Utc::now());
        });
        match end {
            End::CloseStream => self.outbox.close(1000, "").await,
            End::IdleTimeout => self.outbox.close(1011, NET_0001).await,
            End::Shutdown => self.outbox.close(1001, "emulator shutting down").await,
            End::ClientClosed => self.outbox.finish().await,
            End::FaultDrop => self.outbox.cut(),
        }
    }
}
