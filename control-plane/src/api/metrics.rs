//! `GET /api/v1/metrics`: the organization's call and provider numbers at a glance.
//! (The Prometheus scrape endpoint is `/metrics`, outside the API.)

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::db::metrics;
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::state::AppState;
use shared::CallStatus;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(org_metrics))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgMetrics {
    /// Calls that got past `queued`.
    pub calls_started: i64,
    pub calls_completed: i64,
    pub calls_failed: i64,
    pub stt_requests: i64,
    pub stt_errors: i64,
    pub llm_requests: i64,
    pub llm_errors: i64,
    pub tts_requests: i64,
    pub tts_errors: i64,
    /// Over the calls that have a duration; 0 when none has.
    pub avg_call_duration_sec: f64,
    /// Completed calls over the calls that ended; 0 when none has.
    pub success_rate: f64,
}

/// Call counts, provider requests and errors, average duration and success rate.
#[utoipa::path(get, path = "/api/v1/metrics", tag = "metrics",
    responses((status = 200, body = OrgMetrics), (status = 401, body = ErrorBody)))]
async fn org_metrics(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<ApiJson<OrgMetrics>, ApiError> {
    let tally = metrics::call_tally(&state.db, caller.org_id, None).await?;
    let usage = metrics::provider_usage(&state.db, caller.org_id).await?;
    let kind = |name: &str| usage.get(name).copied().unwrap_or_default();
    let (stt, llm, tts) = (kind("stt"), kind("llm"), kind("tts"));
    let completed = tally.status(CallStatus::Completed);
    Ok(ApiJson(OrgMetrics {
        calls_started: tally.started(),
        calls_completed: completed,
        calls_failed: tally.status(CallStatus::Failed),
        stt_requests: stt.requests,
        stt_errors: stt.errors,
        llm_requests: llm.requests,
        llm_errors: llm.errors,
        tts_requests: tts.requests,
        tts_errors: tts.errors,
        avg_call_duration_sec: tally.average_duration_sec,
        success_rate: tally.share_of_terminal(completed),
    }))
}
