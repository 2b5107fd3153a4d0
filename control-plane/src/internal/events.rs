//! `POST /internal/v1/calls/{id}/events`: the worker's events, applied in order and once
//! each. A retried batch is harmless: events at or below the last applied sequence number
//! are acknowledged and skipped; a gap is refused with 409 so the worker resends from the
//! expected number.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use shared::events::CallEvent;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::call_token;
use crate::effects::{self, Action};
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventBatch {
    pub events: Vec<CallEvent>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventAck {
    /// The highest sequence number applied so far.
    pub acknowledged: i64,
}

/// Applies a batch of a call's events (authenticated by the call's token).
#[utoipa::path(post, path = "/internal/v1/calls/{id}/events", tag = "internal",
    params(("id" = Uuid, Path)), security(("bearer" = [])), request_body = EventBatch,
    responses((status = 200, body = EventAck), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "A sequence number is missing", body = ErrorBody)))]
pub(super) async fn post_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(mut batch): ApiJson<EventBatch>,
) -> Result<ApiJson<EventAck>, ApiError> {
    let claims = call_token(&state, &headers, id)?;
    batch.events.sort_by_key(|e| e.seq);
    let now = state.engine.clock().now();
    let mut tx = state.db.begin().await?;
    // The row lock orders concurrent deliveries for the same call.
    let call = sqlx::query!(
        "select events_seq from calls where id = $1 and org_id = $2 for update",
        id,
        claims.org
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound("call"))?;
    let mut last = call.events_seq;
    let mut actions: Vec<Action> = Vec::new();
    for event in &batch.events {
        if event.seq <= last {
            continue;
        }
        if event.seq != last + 1 {
            return Err(ApiError::Conflict(format!(
                "expected event {}, got {}",
                last + 1,
                event.seq
            )));
        }
        let payload = serde_json::to_value(&event.kind).map_err(anyhow::Error::from)?;
        let kind = payload["type"].as_str().unwrap_or("unknown").to_string();
        sqlx::query!(
            "insert into call_events (call_id, org_id, seq, kind, payload) values ($1, $2, $3, $4, $5)",
            id,
            claims.org,
            event.seq,
            kind,
            payload
        )
        .execute(&mut *tx)
        .await?;
        if let Some(action) = effects::apply(&mut tx, id, claims.org, &event.kind, now).await? {
            actions.push(action);
        }
        last = event.seq;
    }
    sqlx::query!("update calls set events_seq = $2 where id = $1", id, last)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    for action in actions {
        effects::carry_out(&state, id, action).await;
    }
    Ok(ApiJson(EventAck { acknowledged: last }))
}
