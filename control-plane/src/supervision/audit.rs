//! The audit of supervision: one row per action a supervisor took on a call (or tried
//! to: failures are recorded with their error), and `GET /api/v1/calls/{id}/supervision`.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::worker::ensure_call;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;

/// One action, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupervisionActionView {
    pub id: Uuid,
    /// `listen_started`, `listen_ended`, `say`, `whisper`, `end`, `transfer`,
    /// `take_over` or `hand_back`.
    pub action: String,
    /// The words (say, whisper), the number (transfer) or why (a hand-back because the
    /// listen stream closed).
    pub detail: Value,
    /// Whether the worker carried it out.
    pub ok: bool,
    pub error: Option<String>,
    /// The user who acted (a session), or
    pub user_id: Option<Uuid>,
    /// the API key that acted.
    pub api_key_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SupervisionActionList {
    pub data: Vec<SupervisionActionView>,
}

/// Records one action by `caller` on call `call` (already checked to be theirs).
pub(super) async fn record(
    state: &AppState,
    caller: &Caller,
    call: Uuid,
    action: &str,
    detail: Value,
    result: &Result<(), String>,
) -> Result<(), ApiError> {
    sqlx::query!(
        "insert into call_supervision_actions
             (org_id, call_id, user_id, api_key_id, action, detail, ok, error)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        caller.org_id,
        call,
        caller.user_id,
        caller.api_key_id,
        action,
        detail,
        result.is_ok(),
        result.as_ref().err()
    )
    .execute(&state.db)
    .await?;
    tracing::info!(call_id = %call, action, ok = result.is_ok(), "supervision action");
    Ok(())
}

/// Every supervision action on the call, oldest first.
#[utoipa::path(get, path = "/api/v1/calls/{id}/supervision", tag = "supervision",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SupervisionActionList), (status = 404, body = ErrorBody)))]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<SupervisionActionList>, ApiError> {
    ensure_call(&state, &caller, id).await?;
    let data = sqlx::query_as!(
        SupervisionActionView,
        "select id, action, detail, ok, error, user_id, api_key_id, created_at
         from call_supervision_actions where call_id = $1 and org_id = $2
         order by created_at, id",
        id,
        caller.org_id
    )
    .fetch_all(&state.db)
    .await?;
    Ok(ApiJson(SupervisionActionList { data }))
}
