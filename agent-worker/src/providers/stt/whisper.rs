//! OpenAI Whisper as a session: the pipeline's VAD cuts the audio into segments and each
//! `Finalize` sends one segment as a WAV to `/audio/transcriptions`.
//!
//! Whisper is not a streaming service, so this is the fallback for when Deepgram is down,
//! not the usual path: no interims, and the final arrives a request later. The request runs
//! beside the session (audio keeps flowing into the next segment meanwhile); results come
//! out in the order their segments ended.

use super::receiver_stream;
use crate::audio::mulaw;
use crate::providers::http::Endpoint;
use crate::providers::resilience::RetryPolicy;
use crate::providers::{ProviderError, Stt, SttEvent, SttInput, SttOptions, SttSession};
use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{FuturesOrdered, StreamExt};
use futures::FutureExt;
use secrecy::ExposeSecret;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::mpsc;

mod segment;

pub use segment::{wav, Segment, Segmenter};

/// The OpenAI (or compatible) transcription client.
#[derive(Debug, Clone)]
pub struct WhisperStt {
    endpoint: Endpoint,
    client: reqwest::Client,
    /// Whole-request cap.
    request_timeout_ms: u64,
    preroll_ms: u64,
    retry: RetryPolicy,
}

impl WhisperStt {
    /// A client for `endpoint` (the base includes `/v1`).
    pub fn new(
        endpoint: Endpoint,
        client: reqwest::Client,
        request_timeout_ms: u64,
        preroll_ms: u64,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            endpoint,
            client,
            request_timeout_ms,
            preroll_ms,
            retry,
        }
    }
}

#[derive(Deserialize)]
struct Transcription {
    #[serde(default)]
    text: String,
}

/// `en-US` -> `en`: Whisper takes ISO-639-1 codes.
fn whisper_language(language: &str) -> Option<String> {
    let primary = language
        .split(['-', '_'])
        .next()?
        .trim()
        .to_ascii_lowercase();
    (!primary.is_empty()).then_some(primary)
}

impl WhisperStt {
    async fn transcribe_once(
        &self,
        model: &str,
        language: Option<&str>,
        wav: Bytes,
    ) -> Result<String, ProviderError> {
        let file = reqwest::multipart::Part::stream(wav)
            .file_name("audio.wav")
            .mime_str("audio/wav")
            .map_err(|e| self.endpoint.protocol(e.to_string()))?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", model.to_string())
            .text("response_format", "json");
        if let Some(language) = language {
            form = form.text("language", language.to_string());
        }
        let mut request = self
            .client
            .post(self.endpoint.url("audio/transcriptions")?)
            .timeout(Duration::from_millis(self.request_timeout_ms))
            .multipart(form);
        if let Some(key) = &self.endpoint.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = self.endpoint.send(request, self.request_timeout_ms).await?;
        let body: Transcription = response
            .json()
            .await
            .map_err(|e| self.endpoint.protocol(format!("transcription body: {e}")))?;
        Ok(body.text.trim().to_string())
    }

    /// One segment, retried while the error is retryable (nothing was output yet).
    async fn transcribe(
        self,
        model: String,
        language: Option<String>,
        segment: Segment,
    ) -> Result<SttEvent, ProviderError> {
        let text = if segment.audio.is_empty() {
            String::new()
        } else {
            let wav = Bytes::from(wav(&mulaw::decode(&segment.audio)));
            let mut tried = 0;
            loop {
                match self
                    .transcribe_once(&model, language.as_deref(), wav.clone())
                    .await
                {
                    Ok(text) => break text,
                    Err(error) if error.is_retryable() && tried + 1 < self.retry.attempts => {
                        tokio::time::sleep(self.retry.backoff(tried)).await;
                        tried += 1;
                    }
                    Err(error) => return Err(error),
                }
            }
        };
        Ok(SttEvent::Final {
            text,
            start_ms: segment.start_ms,
            end_ms: segment.end_ms,
            confidence: None,
            speech_final: true,
        })
    }
}

#[async_trait]
impl Stt for WhisperStt {
    fn name(&self) -> &str {
        &self.endpoint.provider
    }

    async fn open(&self, options: &SttOptions) -> Result<SttSession, ProviderError> {
        let (audio, input) = mpsc::channel(64);
        let (events, output) = mpsc::channel(16);
        let client = self.clone();
        let model = options.model.clone();
        let language = whisper_language(&options.language);
        tokio::spawn(client.run(model, language, input, events));
        Ok(SttSession {
            audio,
            events: receiver_stream(output),
        })
    }
}

type Pending = BoxFuture<'static, Result<SttEvent, ProviderError>>;

impl WhisperStt {
    async fn run(
        self,
        model: String,
        language: Option<String>,
        mut input: mpsc::Receiver<SttInput>,
        events: mpsc::Sender<Result<SttEvent, ProviderError>>,
    ) {
        let mut segmenter = Segmenter::new(self.preroll_ms);
        let mut inflight: FuturesOrdered<Pending> = FuturesOrdered::new();
        let mut open = true;
        loop {
            if !open && inflight.is_empty() {
                return;
            }
            tokio::select! {
                message = input.recv(), if open => {
                    let segment = match message {
                        Some(input) => segmenter.push(input),
                        None => {
                            open = false;
                            // What the caller said last still gets transcribed.
                            segmenter.finish()
                        }
                    };
                    if let Some(segment) = segment {
                        let client = self.clone();
                        inflight.push_back(client.transcribe(model.clone(), language.clone(), segment).boxed());
                    }
                }
                Some(result) = inflight.next() => {
                    let failed = result.is_err();
                    if events.send(result).await.is_err() || failed {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
