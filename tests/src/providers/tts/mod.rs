//! Text to speech shared by the three services: text checks, the cache of encoded
//! utterances, output formats, and paced playout.

pub(crate) mod cache;
pub(crate) mod format;
pub(crate) mod playout;
pub(crate) mod queue;
pub(crate) mod text;

use super::errors::{Api, ApiError};
use text::TextError;

/// The 400 a service answers for text the speech code cannot say.
pub(crate) fn text_error(api: Api, error: TextError) -> ApiError {
    let error = ApiError::bad_request(api, error.to_string());
    match api {
        Api::OpenAi => error.param("input"),
        Api::Deepgram | Api::ElevenLabs => error.param("text"),
    }
}

use super::gate::Admitted;
use super::report::TtsRequestReport;
use super::state::Shared;
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use format::AudioFormat;
use playout::TtsRecord;
use std::sync::Arc;

/// What a REST TTS request asked for, once validated.
pub(crate) struct SpeakRequest {
    pub api: Api,
    /// `elevenlabs`, `openai` or `deepgram`.
    pub provider: &'static str,
    /// As received, before punctuation mapping.
    pub text: String,
    pub voice: String,
    pub model: Option<String>,
    pub format: AudioFormat,
    pub content_type: &'static str,
}

/// Answers a REST TTS request: checks the text, renders it, and streams it paced.
pub(crate) async fn speak(
    shared: &Arc<Shared>,
    request: SpeakRequest,
    admitted: Admitted,
    service: super::faults::Service,
) -> Result<Response, ApiError> {
    let ascii = text::to_ascii(&request.text).map_err(|e| {
        shared.refused(service, 400, e.to_string());
        text_error(request.api, e)
    })?;
    let rendered = format::render(&shared.cache, &ascii, request.format)
        .await
        .map_err(|e| ApiError::injected(request.api, 500).with_message(e.to_string()))?;
    let record = TtsRecord::open(
        shared,
        TtsRequestReport {
            provider: request.provider.into(),
            transport: "rest".into(),
            received_at: Some(chrono::Utc::now()),
            text: request.text,
            voice: request.voice,
            model: request.model,
            format: request.format.label(),
            audio_ms: rendered.audio_ms,
            fault: admitted.fault,
            ..TtsRequestReport::default()
        },
    );
    let body = playout::body(
        shared.clone(),
        rendered,
        request.format,
        admitted.drop_after,
        record,
    );
    Ok((
        [(CONTENT_TYPE, request.content_type)],
        Body::from_stream(body),
    )
        .into_response())
}

/// One generation on a TTS WebSocket, rendered and with its line in the report.
pub(crate) struct SocketGeneration<'a> {
    pub provider: &'static str,
    /// As received, before punctuation mapping.
    pub asked: String,
    /// Its ASCII form.
    pub ascii: &'a str,
    pub voice: &'a str,
    pub model: Option<String>,
    pub format: AudioFormat,
    pub fault: Option<String>,
}

impl SocketGeneration<'_> {
    /// Renders the text and opens its report line.
    pub(crate) async fn render(
        self,
        shared: &Arc<Shared>,
    ) -> Option<(format::Rendered, TtsRecord)> {
        let rendered = format::render(&shared.cache, self.ascii, self.format)
            .await
            .ok()?;
        let record = TtsRecord::open(
            shared,
            TtsRequestReport {
                provider: self.provider.into(),
                transport: "websocket".into(),
                received_at: Some(chrono::Utc::now()),
                text: self.asked,
                voice: self.voice.into(),
                model: self.model,
                format: self.format.label(),
                audio_ms: rendered.audio_ms,
                fault: self.fault,
                ..TtsRequestReport::default()
            },
        );
        Some((rendered, record))
    }
}
