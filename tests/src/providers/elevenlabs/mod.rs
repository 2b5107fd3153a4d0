//! ElevenLabs text to speech: `POST /v1/text-to-speech/{voice_id}/stream` (and the
//! unstreamed path, which is served the same way), header `xi-api-key`, JSON `{text,
//! model_id, voice_settings}`, `?output_format=ulaw_8000|pcm_16000|pcm_24000|...`; and
//! the `stream-input` WebSocket ([`stream_input`]).
//!
//! MP3 and Opus formats are refused: the emulator only produces what the speech code can
//! be checked through, and those are what a phone pipeline asks for.

mod stream_input;

use super::errors::{Api, ApiError};
use super::faults::Service;
use super::gate::admit;
use super::state::Shared;
use super::tts::format::AudioFormat;
use super::tts::{speak, SpeakRequest};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/text-to-speech/{voice_id}/stream", post(tts))
        .route("/v1/text-to-speech/{voice_id}", post(tts))
        .route(
            "/v1/text-to-speech/{voice_id}/stream-input",
            get(stream_input::upgrade),
        )
}

#[derive(Deserialize)]
struct TtsQuery {
    output_format: Option<String>,
}

#[derive(Deserialize)]
struct TtsBody {
    text: String,
    model_id: Option<String>,
}

/// `ulaw_8000` and `pcm_<rate>` at the rates ElevenLabs offers.
fn parse_format(name: &str) -> Option<AudioFormat> {
    match name {
        "ulaw_8000" => Some(AudioFormat::mulaw(8000)),
        _ => {
            let rate: u32 = name.strip_prefix("pcm_")?.parse().ok()?;
            [8000, 16000, 22050, 24000, 44100, 48000]
                .contains(&rate)
                .then(|| AudioFormat::pcm(rate))
        }
    }
}

/// The requested format, or the 400 for one the emulator does not produce (ElevenLabs'
/// default is MP3).
fn output_format(
    shared: &Shared,
    service: Service,
    name: Option<&str>,
) -> Result<AudioFormat, ApiError> {
    let name = name.unwrap_or("mp3_44100_128");
    parse_format(name).ok_or_else(|| {
        shared.refused(service, 400, format!("output_format {name}"));
        ApiError::new(
            Api::ElevenLabs,
            400,
            "invalid_output_format",
            format!(
                "output_format {name:?} is not supported by the emulator; use ulaw_8000 or \
                 pcm_8000/16000/22050/24000/44100/48000"
            ),
        )
    })
}

async fn tts(
    State(shared): State<Arc<Shared>>,
    Path(voice_id): Path<String>,
    Query(query): Query<TtsQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let service = Service::TtsElevenlabs;
    let admitted = admit(&shared, service, &headers).await?;
    let request: TtsBody = serde_json::from_slice(&body).map_err(|e| {
        shared.refused(service, 422, e.to_string());
        ApiError::new(Api::ElevenLabs, 422, "json_invalid", e.to_string()).param("text")
    })?;
    let format = output_format(&shared, service, query.output_format.as_deref())?;
    let request = SpeakRequest {
        api: Api::ElevenLabs,
        provider: "elevenlabs",
        text: request.text,
        voice: voice_id,
        model: request.model_id,
        format,
        content_type: "application/octet-stream",
    };
    speak(&shared, request, admitted, service).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_map_to_encodings_and_rates() {
        assert_eq!(parse_format("ulaw_8000"), Some(AudioFormat::mulaw(8000)));
        assert_eq!(parse_format("pcm_24000"), Some(AudioFormat::pcm(24000)));
        assert_eq!(parse_format("pcm_12345"), None);
        assert_eq!(parse_format("mp3_44100_128"), None);
    }
}
