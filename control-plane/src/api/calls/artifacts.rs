//! `GET /api/v1/calls/{id}/transcript` and `/recordings`: what a call produced, and
//! `/recordings/{recordingId}/audio`, the recorded file itself.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::calls::{self, RecordingRow, TranscriptRow};
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;
use shared::storage;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_transcript))
        .routes(routes!(list_recordings))
        .routes(routes!(recording_audio))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptEntry {
    pub start_ms: i64,
    pub end_ms: i64,
    /// `agent` or `callee`.
    pub speaker: String,
    pub text: String,
    pub confidence: Option<f64>,
}

impl From<TranscriptRow> for TranscriptEntry {
    fn from(row: TranscriptRow) -> Self {
        Self {
            start_ms: row.start_ms,
            end_ms: row.end_ms,
            speaker: row.speaker,
            text: row.text,
            confidence: row.confidence,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transcript {
    pub entries: Vec<TranscriptEntry>,
    /// One `Agent: ...` or `Callee: ...` line per entry, in order.
    pub full_text: String,
}

impl Transcript {
    fn new(entries: Vec<TranscriptEntry>) -> Self {
        let full_text = entries
            .iter()
            .map(|e| {
                let who = match e.speaker.as_str() {
                    "agent" => "Agent",
                    _ => "Callee",
                };
                format!("{who}: {}", e.text)
            })
            .collect::<Vec<_>>()
            .join("\n");
        Self { entries, full_text }
    }
}

/// What was said on the call.
#[utoipa::path(get, path = "/api/v1/calls/{id}/transcript", tag = "calls",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Transcript), (status = 404, body = ErrorBody)))]
async fn get_transcript(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<Transcript>, ApiError> {
    if !calls::exists(&state.db, caller.org_id, id).await? {
        return Err(ApiError::NotFound("call"));
    }
    let rows = calls::transcript(&state.db, caller.org_id, id).await?;
    Ok(ApiJson(Transcript::new(
        rows.into_iter().map(Into::into).collect(),
    )))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingView {
    pub id: Uuid,
    /// Where the file is stored (URL or object-store key).
    pub location: String,
    pub format: String,
    pub channels: i16,
    pub duration_sec: Option<f64>,
    pub size_bytes: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<RecordingRow> for RecordingView {
    fn from(row: RecordingRow) -> Self {
        Self {
            id: row.id,
            location: row.location,
            format: row.format,
            channels: row.channels,
            duration_sec: row.duration_sec,
            size_bytes: row.size_bytes,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Recordings {
    pub data: Vec<RecordingView>,
}

/// The call's recordings, oldest first.
#[utoipa::path(get, path = "/api/v1/calls/{id}/recordings", tag = "calls",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Recordings), (status = 404, body = ErrorBody)))]
async fn list_recordings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<Recordings>, ApiError> {
    if !calls::exists(&state.db, caller.org_id, id).await? {
        return Err(ApiError::NotFound("call"));
    }
    let rows = calls::recordings(&state.db, caller.org_id, id).await?;
    Ok(ApiJson(Recordings {
        data: rows.into_iter().map(Into::into).collect(),
    }))
}

/// The recording's audio file (WAV), streamed from the recordings store the workers
/// write to. Recordings kept elsewhere (a carrier's own, whose location is its URL) are
/// not served here.
#[utoipa::path(get, path = "/api/v1/calls/{id}/recordings/{recordingId}/audio", tag = "calls",
    params(("id" = Uuid, Path), ("recordingId" = Uuid, Path)),
    responses((status = 200, description = "The recording", content_type = "audio/wav",
            body = Vec<u8>),
        (status = 404, description = "No such call, recording or stored file", body = ErrorBody)))]
async fn recording_audio(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, recording_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    if !calls::exists(&state.db, caller.org_id, id).await? {
        return Err(ApiError::NotFound("call"));
    }
    // A call has a recording or two: the list's query serves, no query of its own.
    let recording = calls::recordings(&state.db, caller.org_id, id)
        .await?
        .into_iter()
        .find(|r| r.id == recording_id)
        .ok_or(ApiError::NotFound("recording"))?;
    let key = storage::org_recording(&recording.location, caller.org_id)
        .ok_or(ApiError::NotFound("recording file"))?;
    let object = match state.recordings.get(&key).await {
        Ok(object) => object,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(ApiError::NotFound("recording file"))
        }
        Err(err) => {
            return Err(ApiError::Internal(
                anyhow::Error::new(err).context("reading a recording from the store"),
            ))
        }
    };
    let headers = [
        (CONTENT_TYPE, "audio/wav".to_string()),
        (CONTENT_LENGTH, object.meta.size.to_string()),
        (
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{recording_id}.wav\""),
        ),
    ];
    Ok((headers, Body::from_stream(object.into_stream())).into_response())
}
