//! `POST /internal/v1/workers/heartbeat`: a worker says it is alive and how many calls it
//! can take. The engine never starts more Media Streams calls than live workers hold.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::worker_key;
use crate::error::{ApiError, ErrorBody, Validator};
use crate::http::ApiJson;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub worker_id: String,
    /// `twilio_stream` or `livekit_sip`.
    pub mode: String,
    /// Where the worker can be reached (informational).
    pub url: Option<String>,
    /// Where the control plane reaches the worker's supervision API (`http(s)://host:port`).
    #[serde(default)]
    pub supervise_url: Option<String>,
    /// Calls it can hold at once.
    pub capacity: i32,
    /// Calls it holds now.
    pub active_calls: i32,
    /// Shutting down: takes no new calls.
    #[serde(default)]
    pub draining: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatAck {
    pub worker_id: String,
}

/// Registers or refreshes a worker.
#[utoipa::path(post, path = "/internal/v1/workers/heartbeat", tag = "internal",
    security(("bearer" = [])), request_body = Heartbeat,
    responses((status = 200, body = HeartbeatAck), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(super) async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Heartbeat>,
) -> Result<ApiJson<HeartbeatAck>, ApiError> {
    worker_key(&state, &headers)?;
    let mut v = Validator::new();
    v.check(
        !body.worker_id.trim().is_empty() && body.worker_id.len() <= 200,
        "workerId",
        "must be 1 to 200 characters",
    )
    .check(
        matches!(body.mode.as_str(), "twilio_stream" | "livekit_sip"),
        "mode",
        "must be twilio_stream or livekit_sip",
    )
    .check(
        (0..=100_000).contains(&body.capacity),
        "capacity",
        "must be 0 to 100000",
    )
    .check(
        body.active_calls >= 0,
        "activeCalls",
        "must not be negative",
    )
    .check(
        body.supervise_url.as_deref().is_none_or(|url| {
            (url.starts_with("http://") || url.starts_with("https://")) && url.len() <= 2000
        }),
        "superviseUrl",
        "must be an http(s) URL",
    );
    v.finish()?;
    let now = state.engine.clock().now();
    sqlx::query!(
        "insert into workers (id, mode, url, capacity, active_calls, draining, last_heartbeat_at,
                              supervise_url)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (id) do update set mode = $2, url = $3, capacity = $4,
             active_calls = $5, draining = $6, last_heartbeat_at = $7, supervise_url = $8",
        body.worker_id,
        body.mode,
        body.url,
        body.capacity,
        body.active_calls,
        body.draining,
        now,
        body.supervise_url
    )
    .execute(&state.db)
    .await?;
    Ok(ApiJson(HeartbeatAck {
        worker_id: body.worker_id,
    }))
}
