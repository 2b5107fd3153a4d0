//! Deepgram Aura text to speech: `POST /v1/speak?model=..&encoding=..&sample_rate=..&
//! container=none|wav` with `{"text": ..}`, and the `/v1/speak` WebSocket ([`session`]).
//!
//! Encodings: `mulaw` (8000 or 16000 Hz, default 8000) and `linear16` (8000-48000 Hz,
//! default 24000). MP3, Opus, FLAC, AAC and A-law are refused with Deepgram's error shape.
//! Over REST the default container is WAV, as at Deepgram; the socket sends raw audio.

mod session;

use super::errors::{Api, ApiError};
use super::faults::Service;
use super::gate::admit;
use super::socket::admit_socket;
use super::state::Shared;
use super::tts::format::AudioFormat;
use super::tts::{speak, SpeakRequest};
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Deepgram's limit on one text.
const MAX_TEXT: usize = 2000;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/v1/speak", get(socket).post(rest))
}

/// What a speak request asked for.
struct SpeakParams {
    model: String,
    format: AudioFormat,
}

fn parse(query: Option<&str>, rest: bool) -> Result<SpeakParams, String> {
    let raw: BTreeMap<String, String> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|e| format!("malformed query string: {e}"))?;
    let rate = |default: u32| -> Result<u32, String> {
        raw.get("sample_rate")
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("sample_rate={v} is not a number"))
            })
            .unwrap_or(Ok(default))
    };
    let encoding = raw.get("encoding").map(String::as_str).unwrap_or("mp3");
    let format = match encoding {
        "mulaw" => AudioFormat::mulaw(rate(8000)?),
        "linear16" => AudioFormat::pcm(rate(24000)?),
        other => {
            return Err(format!(
                "encoding={other} is not supported by the emulator (mulaw or linear16)"
            ))
        }
    };
    let allowed: &[u32] = match encoding {
        "mulaw" => &[8000, 16000],
        _ => &[8000, 16000, 24000, 32000, 48000],
    };
    if !allowed.contains(&format.rate) {
        return Err(format!(
            "sample_rate={} is not valid for encoding={encoding}",
            format.rate
        ));
    }
    let wav = match raw.get("container").map(String::as_str) {
        Some("none") => false,
        Some("wav") | None => rest,
        Some(other) => return Err(format!("container={other} is not supported")),
    };
    Ok(SpeakParams {
        model: raw
            .get("model")
            .cloned()
            .unwrap_or_else(|| "aura-asteria-en".into()),
        format: format.in_wav(wav),
    })
}

#[derive(Deserialize)]
struct SpeakBody {
    text: String,
}

async fn rest(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let service = Service::TtsDeepgram;
    let admitted = admit(&shared, service, &headers).await?;
    let refuse = |message: String| {
        shared.refused(service, 400, message.clone());
        ApiError::bad_request(Api::Deepgram, message)
    };
    let params = parse(query.as_deref(), true).map_err(refuse)?;
    let request: SpeakBody = serde_json::from_slice(&body)
        .map_err(|e| refuse(format!("body must be JSON with a text field: {e}")))?;
    if request.text.chars().count() > MAX_TEXT {
        return Err(refuse(format!("text is longer than {MAX_TEXT} characters")));
    }
    let chars = request.text.chars().count();
    let content_type = match (params.format.wav, params.format.encoding) {
        (true, _) => "audio/wav",
        (false, super::tts::format::Encoding::Mulaw) => "audio/basic",
        (false, super::tts::format::Encoding::Pcm16) => "audio/l16",
    };
    let request = SpeakRequest {
        api: Api::Deepgram,
        provider: "deepgram",
        text: request.text,
        voice: params.model.clone(),
        model: Some(params.model.clone()),
        format: params.format,
        content_type,
    };
    let mut response = speak(&shared, request, admitted, service).await?;
    let headers = response.headers_mut();
    for (name, value) in [
        ("dg-request-id", super::request_id()),
        ("dg-model-name", params.model),
        ("dg-char-count", chars.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

async fn socket(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let service = Service::TtsDeepgram;
    let params = parse(query.as_deref(), false).map_err(|message| {
        shared.refused(service, 400, message.clone());
        ApiError::bad_request(Api::Deepgram, message)
    })?;
    let fault = admit_socket(&shared, service, &headers).await?;
    Ok(ws
        .read_buffer_size(4096)
        .on_upgrade(move |socket| session::run(shared, socket, params.model, params.format, fault))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_defaults_to_wav_and_the_socket_to_raw() {
        let rest = parse(Some("encoding=mulaw&sample_rate=8000"), true).expect("valid");
        assert!(rest.format.wav);
        let raw =
            parse(Some("encoding=mulaw&sample_rate=8000&container=none"), true).expect("valid");
        assert_eq!(raw.format, AudioFormat::mulaw(8000));
        let ws = parse(Some("encoding=linear16"), false).expect("valid");
        assert_eq!(ws.format, AudioFormat::pcm(24000));
        assert!(parse(Some("encoding=mp3"), true).is_err());
        assert!(parse(None, true).is_err());
        assert!(parse(Some("encoding=mulaw&sample_rate=24000"), true).is_err());
    }
}
