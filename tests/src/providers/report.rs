//! What the emulator records about every session and request, for tests to assert on
//! ("the reply to `token-17` went out after the transcript of `token-17`"). The same types
//! are served as JSON by `GET /_emulator/report`, so a test driving the binary from
//! another process deserializes them unchanged.
//!
//! Two clocks: `*_at` fields are wall-clock times; STT `start`/`end` fields are seconds
//! on the session's received-audio clock (bytes received / bytes per second).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything recorded so far, each list in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Deepgram live transcription sessions.
    pub stt: Vec<SttSessionReport>,
    /// Chat completion requests.
    pub llm: Vec<LlmRequestReport>,
    /// Text-to-speech requests (all providers; WebSocket flushes count as one each).
    pub tts: Vec<TtsRequestReport>,
    /// Whisper transcription requests.
    pub whisper: Vec<WhisperReport>,
    /// Requests refused before any work: bad key, bad parameters, injected status.
    pub refused: Vec<RefusedRequest>,
}

impl Report {
    /// Every final transcript's text across all STT sessions, in order (empty ones left
    /// out).
    pub fn final_transcripts(&self) -> Vec<String> {
        self.stt
            .iter()
            .flat_map(|s| s.transcripts.iter())
            .filter(|t| t.is_final && !t.text.is_empty())
            .map(|t| t.text.clone())
            .collect()
    }

    /// Every text sent to a TTS service, in order.
    pub fn tts_texts(&self) -> Vec<String> {
        self.tts.iter().map(|t| t.text.clone()).collect()
    }
}

/// One `/v1/listen` WebSocket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SttSessionReport {
    /// Deepgram's `request_id` for the session.
    pub request_id: String,
    /// When the socket opened.
    pub opened_at: Option<DateTime<Utc>>,
    /// When it closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// The query parameters, as sent.
    pub query: BTreeMap<String, String>,
    /// `mulaw` or `linear16`.
    pub encoding: String,
    /// Hz.
    pub sample_rate: u32,
    /// Audio received so far, in seconds.
    pub audio_seconds: f64,
    /// Binary frames received.
    pub frames: u64,
    /// KeepAlive messages received.
    pub keepalives: u64,
    /// Finalize messages received.
    pub finalizes: u64,
    /// Audio times (s) of the `SpeechStarted` messages sent.
    pub speech_started: Vec<f64>,
    /// Every `Results` sent, interim and final.
    pub transcripts: Vec<SttTranscript>,
    /// `last_word_end` (s) of each `UtteranceEnd` sent.
    pub utterance_ends: Vec<f64>,
    /// Utterances that started but could not be decoded (damaged, truncated).
    pub undecodable: Vec<Undecodable>,
    /// `close_stream`, `idle_timeout`, `client_closed`, `fault_drop`, `shutdown`.
    pub end: Option<String>,
    /// The fault applied, if any.
    pub fault: Option<String>,
}

impl SttSessionReport {
    /// The non-empty final transcripts, in order.
    pub fn final_texts(&self) -> Vec<String> {
        self.transcripts
            .iter()
            .filter(|t| t.is_final && !t.text.is_empty())
            .map(|t| t.text.clone())
            .collect()
    }
}

/// One `Results` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SttTranscript {
    /// The transcript (empty when nothing decodable was heard).
    pub text: String,
    /// Audio time (s) the message's `start` field carried.
    pub start: f64,
    /// `start + duration`.
    pub end: f64,
    /// Audio time (s) the first decoded word began, if any.
    pub speech_start: Option<f64>,
    /// Audio time (s) the last decoded word ended, if any.
    pub speech_end: Option<f64>,
    /// `is_final`.
    pub is_final: bool,
    /// `speech_final`.
    pub speech_final: bool,
    /// `from_finalize`.
    pub from_finalize: bool,
    /// When it was handed to the socket (after any configured delay).
    pub sent_at: DateTime<Utc>,
}

/// An utterance the decoder rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undecodable {
    /// Why, e.g. `BadCrc`, `LostSignal(12)`, `Truncated`.
    pub fault: String,
    /// Audio time (s) of its start.
    pub start: f64,
    /// Audio time (s) where reading stopped.
    pub end: f64,
}

/// A tool call the emulated model made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedToolCall {
    /// `call_...`.
    pub id: String,
    /// The function name.
    pub name: String,
    /// The arguments as JSON text.
    pub arguments: String,
}

/// One chat completion request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmRequestReport {
    /// `chatcmpl-...`.
    pub id: String,
    /// When it arrived.
    pub received_at: Option<DateTime<Utc>>,
    /// The `model` asked for.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
    /// The `messages`, as received.
    pub messages: Vec<serde_json::Value>,
    /// Text of the last user message (what the reply answers), if the last message was
    /// from the user.
    pub last_user_text: Option<String>,
    /// Names of the tools offered.
    pub tools_offered: Vec<String>,
    /// The reply text.
    pub reply: String,
    /// Tool calls made.
    pub tool_calls: Vec<ReportedToolCall>,
    /// `stop`, `tool_calls` or `length`.
    pub finish_reason: String,
    /// SSE chunks (or, unstreamed, body bytes) actually sent.
    pub sent: u64,
    /// The whole response went out.
    pub completed: bool,
    /// The fault applied, if any.
    pub fault: Option<String>,
}

/// One text-to-speech request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TtsRequestReport {
    /// `elevenlabs`, `openai` or `deepgram`.
    pub provider: String,
    /// `rest` or `websocket`.
    pub transport: String,
    /// When it arrived (for WebSockets: when the flush came).
    pub received_at: Option<DateTime<Utc>>,
    /// The text as asked (before punctuation was mapped to ASCII).
    pub text: String,
    /// The voice id or name.
    pub voice: String,
    /// The model, if given.
    pub model: Option<String>,
    /// `ulaw_8000`, `pcm_24000`, `linear16_16000`...
    pub format: String,
    /// Milliseconds of audio the text encodes to.
    pub audio_ms: u64,
    /// Audio bytes actually sent (container headers not counted).
    pub bytes_sent: u64,
    /// From arrival to the first audio byte handed to the connection.
    pub first_byte_ms: Option<u64>,
    /// All audio went out.
    pub completed: bool,
    /// Cut short by a Clear (Deepgram WebSocket) before all audio went out.
    pub cleared: bool,
    /// The fault applied, if any.
    pub fault: Option<String>,
}

/// One `/v1/audio/transcriptions` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WhisperReport {
    /// When it arrived.
    pub received_at: Option<DateTime<Utc>>,
    /// The `model` field.
    pub model: String,
    /// Seconds of audio in the file.
    pub audio_seconds: f64,
    /// The text returned.
    pub text: String,
    /// The fault applied, if any.
    pub fault: Option<String>,
}

/// A request answered with an error before any work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedRequest {
    /// `stt`, `llm`, `tts_openai`...
    pub service: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The HTTP status sent.
    pub status: u16,
    /// Why.
    pub reason: String,
}
