//! Speech to text: a streaming session per call.

use super::ProviderError;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::mpsc;

pub mod deepgram;
pub mod whisper;

/// What a session needs to know about the call.
#[derive(Debug, Clone)]
pub struct SttOptions {
    /// The model, e.g. `nova-3` or `whisper-1`.
    pub model: String,
    /// BCP 47 language, e.g. `en-US`.
    pub language: String,
    /// Silence (ms) after which the provider's endpointing finalizes an utterance.
    pub endpointing_ms: u64,
}

/// What the pipeline feeds a session.
#[derive(Debug, Clone)]
pub enum SttInput {
    /// Whole 20 ms frames of 8 kHz mu-law (the pipeline sends 100 ms at a time), with
    /// whether its VAD heard speech in them (segmenting providers such as Whisper keep
    /// only speech; streaming ones ignore it).
    Audio { mulaw: Bytes, speech: bool },
    /// The pipeline thinks the callee finished a turn: finalize what was heard.
    Finalize,
}

/// What a session reports. Times are milliseconds of audio since the session opened.
#[derive(Debug, Clone, PartialEq)]
pub enum SttEvent {
    /// The provider heard speech start.
    SpeechStarted { at_ms: u64 },
    /// A partial transcript that may still change.
    Interim { text: String },
    /// A final transcript for a stretch of audio. `speech_final` marks the provider's own
    /// end-of-turn (endpointing).
    Final {
        text: String,
        start_ms: u64,
        end_ms: u64,
        confidence: Option<f64>,
        speech_final: bool,
    },
    /// The provider saw the utterance end (silence after the last word).
    UtteranceEnd { at_ms: u64 },
}

/// An open session: send audio in, read events out. Dropping `audio` closes the session
/// cleanly (the provider is told to flush and close).
pub struct SttSession {
    pub audio: mpsc::Sender<SttInput>,
    pub events: BoxStream<'static, Result<SttEvent, ProviderError>>,
}

impl std::fmt::Debug for SttSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SttSession").finish_non_exhaustive()
    }
}

/// A speech-to-text provider.
#[async_trait]
pub trait Stt: Send + Sync {
    /// The provider's name for logs, metrics and costs (`deepgram`, `openai`).
    fn name(&self) -> &str;
    /// Opens a session for one call.
    async fn open(&self, options: &SttOptions) -> Result<SttSession, ProviderError>;
}

/// A channel's receiving end as a stream: how session tasks hand out their events.
pub(crate) fn receiver_stream<T: Send + 'static>(
    receiver: mpsc::Receiver<T>,
) -> BoxStream<'static, T> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
    .boxed()
}
