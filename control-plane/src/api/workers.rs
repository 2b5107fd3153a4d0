//! `GET /api/v1/workers`: the agent workers the deployment has and their free capacity.

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::ApiJson;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_workers))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerView {
    pub id: String,
    pub mode: String,
    pub url: Option<String>,
    pub capacity: i32,
    pub active_calls: i32,
    pub draining: bool,
    pub last_heartbeat_at: DateTime<Utc>,
    /// Heartbeat recent enough to count its slots.
    pub alive: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerList {
    pub data: Vec<WorkerView>,
}

/// Workers shared by the deployment (they are not per organization).
#[utoipa::path(get, path = "/api/v1/workers", tag = "workers",
    responses((status = 200, body = WorkerList)))]
async fn list_workers(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<ApiJson<WorkerList>, ApiError> {
    let now = state.engine.clock().now();
    let ttl = Duration::seconds(state.settings.workers.heartbeat_ttl_sec);
    let rows = sqlx::query!(
        "select id, mode, url, capacity, active_calls, draining, last_heartbeat_at
         from workers order by id"
    )
    .fetch_all(&state.db)
    .await?;
    let data = rows
        .into_iter()
        .map(|r| WorkerView {
            alive: r.last_heartbeat_at + ttl > now,
            id: r.id,
            mode: r.mode,
            url: r.url,
            capacity: r.capacity,
            active_calls: r.active_calls,
            draining: r.draining,
            last_heartbeat_at: r.last_heartbeat_at,
        })
        .collect();
    Ok(ApiJson(WorkerList { data }))
}
