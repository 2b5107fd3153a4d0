//! OpenAI audio: `POST /v1/audio/speech` (TTS) and `POST /v1/audio/transcriptions`
//! (Whisper).
//!
//! Speech answers `response_format: "pcm"` (raw 24 kHz 16-bit little-endian mono, streamed)
//! and `"wav"` (the same behind a streaming header); MP3, Opus, AAC and FLAC are refused
//! with OpenAI's error shape. Transcriptions take a WAV `file` (16-bit PCM or mu-law, any
//! rate from 8 kHz) and return only what the speech-code decoder reads from it.

use super::errors::{Api, ApiError};
use super::faults::Service;
use super::gate::admit;
use super::report::WhisperReport;
use super::state::Shared;
use super::tts::format::AudioFormat;
use super::tts::{speak, SpeakRequest};
use super::wav;
use crate::speech_code::{DecodeEvent, Decoder};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// OpenAI's upload limit.
const MAX_UPLOAD: usize = 25 << 20;
/// OpenAI's limit on `input`.
const MAX_INPUT: usize = 4096;
/// The one rate OpenAI speech comes at.
const SPEECH_RATE: u32 = 24_000;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/v1/audio/speech", post(speech)).route(
        "/v1/audio/transcriptions",
        post(transcriptions).layer(DefaultBodyLimit::max(MAX_UPLOAD + 64 * 1024)),
    )
}

#[derive(Deserialize)]
struct SpeechBody {
    model: Option<String>,
    input: Option<String>,
    voice: Option<String>,
    response_format: Option<String>,
}

fn missing(param: &str) -> ApiError {
    ApiError::new(
        Api::OpenAi,
        400,
        "missing_required_parameter",
        format!("Missing required parameter: '{param}'."),
    )
    .param(param)
}

async fn speech(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let service = Service::TtsOpenai;
    let admitted = admit(&shared, service, &headers).await?;
    let refuse = |e: ApiError| {
        shared.refused(service, e.status, e.message.clone());
        e
    };
    let request: SpeechBody = serde_json::from_slice(&body).map_err(|e| {
        refuse(ApiError::bad_request(
            Api::OpenAi,
            format!("We could not parse the JSON body of your request: {e}"),
        ))
    })?;
    let model = request.model.ok_or_else(|| refuse(missing("model")))?;
    let input = request.input.ok_or_else(|| refuse(missing("input")))?;
    let voice = request.voice.ok_or_else(|| refuse(missing("voice")))?;
    if input.chars().count() > MAX_INPUT {
        return Err(refuse(
            ApiError::new(
                Api::OpenAi,
                400,
                "string_above_max_length",
                format!("'input' is longer than {MAX_INPUT} characters"),
            )
            .param("input"),
        ));
    }
    // OpenAI's default is mp3.
    let name = request.response_format.as_deref().unwrap_or("mp3");
    let (format, content_type) = match name {
        "pcm" => (AudioFormat::pcm(SPEECH_RATE), "audio/pcm"),
        "wav" => (AudioFormat::pcm(SPEECH_RATE).in_wav(true), "audio/wav"),
        other => {
            return Err(refuse(
                ApiError::new(
                    Api::OpenAi,
                    400,
                    "unsupported_value",
                    format!(
                        "response_format '{other}' is not supported by the emulator; use \
                         'pcm' or 'wav'"
                    ),
                )
                .param("response_format"),
            ))
        }
    };
    let request = SpeakRequest {
        api: Api::OpenAi,
        provider: "openai",
        text: input,
        voice,
        model: Some(model),
        format,
        content_type,
    };
    speak(&shared, request, admitted, service).await
}

/// The fields of a transcription upload the emulator reads.
#[derive(Default)]
struct Upload {
    file: Option<Bytes>,
    model: Option<String>,
    response_format: Option<String>,
}

async fn read_upload(mut form: Multipart) -> Result<Upload, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(Api::OpenAi, format!("Could not parse multipart form: {e}"))
    };
    let mut upload = Upload::default();
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "file" => upload.file = Some(field.bytes().await.map_err(bad)?),
            "model" => upload.model = Some(field.text().await.map_err(bad)?),
            "response_format" => upload.response_format = Some(field.text().await.map_err(bad)?),
            // language, prompt, temperature...: accepted and ignored.
            _ => {}
        }
    }
    Ok(upload)
}

/// Decoded utterances as `(text, start s, end s)`.
fn transcribe(audio: &wav::WavAudio) -> Vec<(String, f64, f64)> {
    let mut decoder = Decoder::new(audio.rate);
    let mut events = decoder.push(&audio.samples);
    events.extend(decoder.finish());
    let rate = f64::from(audio.rate);
    events
        .into_iter()
        .filter_map(|e| match e {
            DecodeEvent::Utterance(u) => Some((
                u.text,
                u.start_sample as f64 / rate,
                u.end_sample as f64 / rate,
            )),
            DecodeEvent::Error(_) => None,
        })
        .collect()
}

async fn transcriptions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Response, ApiError> {
    let service = Service::Whisper;
    let admitted = admit(&shared, service, &headers).await?;
    let refuse = |e: ApiError| {
        shared.refused(service, e.status, e.message.clone());
        e
    };
    let upload = read_upload(form).await.map_err(refuse)?;
    let model = upload.model.ok_or_else(|| refuse(missing("model")))?;
    let file = upload.file.ok_or_else(|| refuse(missing("file")))?;
    let audio = wav::parse(&file).map_err(|e| {
        refuse(
            ApiError::new(
                Api::OpenAi,
                400,
                "invalid_value",
                format!("Invalid file format: {e}. The emulator reads WAV only."),
            )
            .param("file"),
        )
    })?;
    if audio.rate < 8000 {
        return Err(refuse(
            ApiError::bad_request(Api::OpenAi, "Audio below 8000 Hz is not supported")
                .param("file"),
        ));
    }
    let seconds = audio.samples.len() as f64 / f64::from(audio.rate);
    let heard = tokio::task::spawn_blocking(move || transcribe(&audio))
        .await
        .unwrap_or_default();
    let text = heard
        .iter()
        .map(|(t, _, _)| t.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    shared.report().whisper.push(WhisperReport {
        received_at: Some(chrono::Utc::now()),
        model,
        audio_seconds: seconds,
        text: text.clone(),
        fault: admitted.fault,
    });
    let (body, content_type) = match upload.response_format.as_deref() {
        Some("text") => (format!("{text}\n"), "text/plain; charset=utf-8"),
        Some("verbose_json") => {
            let segments: Vec<_> = heard
                .iter()
                .enumerate()
                .map(|(id, (t, start, end))| json!({"id": id, "start": start, "end": end, "text": t}))
                .collect();
            let body = json!({
                "task": "transcribe", "language": "english", "duration": seconds,
                "text": text, "segments": segments,
            });
            (body.to_string(), "application/json")
        }
        _ => (json!({ "text": text }).to_string(), "application/json"),
    };
    Ok((
        [(CONTENT_TYPE, content_type)],
        cut_body(body, admitted.drop_after),
    )
        .into_response())
}

/// The body, or its first `drop_after` bytes followed by a broken connection.
pub(crate) fn cut_body(body: String, drop_after: Option<u64>) -> Body {
    match drop_after {
        None => Body::from(body),
        Some(after) => {
            let mut bytes = Bytes::from(body);
            let head = bytes.split_to((after as usize).min(bytes.len()));
            let head = futures::stream::iter([Ok(head)]);
            let cut = futures::stream::once(async { Err(super::cut_connection().await) });
            Body::from_stream(futures::StreamExt::chain(head, cut))
        }
    }
}
