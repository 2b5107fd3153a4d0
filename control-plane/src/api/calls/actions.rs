//! Operator actions on calls: place a single call, end a live one.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::PhoneNumber;
use utoipa::ToSchema;
use uuid::Uuid;

use super::CallView;
use crate::auth::Caller;
use crate::db::calls;
use crate::error::{ApiError, ErrorBody, Validator};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCall {
    /// The callee, E.164 (`+14155550123`).
    pub to: String,
    /// Caller id; defaults to the trunk's first number.
    pub from: Option<String>,
    /// The assistant to talk with (or take it from `campaignId`).
    pub assistant_id: Option<Uuid>,
    /// Take assistant, trunk and policies from this campaign.
    pub campaign_id: Option<Uuid>,
    /// The trunk to dial through; defaults to the campaign's, else the organization's first.
    pub trunk_id: Option<Uuid>,
    /// Values for the prompt's `{{placeholders}}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

/// Places one call now (DNC applies). Answers with the queued call.
#[utoipa::path(post, path = "/api/v1/calls", tag = "calls", request_body = CreateCall,
    responses((status = 201, body = CallView), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, description = "No agent worker has a free slot", body = ErrorBody)))]
pub(super) async fn create_call(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateCall>,
) -> Result<(StatusCode, ApiJson<CallView>), ApiError> {
    let to = PhoneNumber::parse(&body.to, None)
        .map_err(|err| ApiError::invalid("to", format!("{err} (use E.164: +country number)")))?;
    let org = caller.org_id;
    let campaign = match body.campaign_id {
        Some(id) => Some(
            sqlx::query!(
                "select assistant_id, trunk_id from campaigns where id = $1 and org_id = $2",
                id,
                org
            )
            .fetch_optional(&state.db)
            .await?
            .ok_or_else(|| ApiError::invalid("campaignId", "no such campaign"))?,
        ),
        None => None,
    };
    let assistant_id = body
        .assistant_id
        .or(campaign.as_ref().map(|c| c.assistant_id))
        .ok_or_else(|| ApiError::invalid("assistantId", "give assistantId or campaignId"))?;
    let trunk_id = body.trunk_id.or(campaign.as_ref().map(|c| c.trunk_id));
    let trunk = sqlx::query!(
        "select id, mode, numbers from trunks
         where org_id = $1 and ($2::uuid is null or id = $2) order by created_at limit 1",
        org,
        trunk_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::invalid("trunkId", "no such trunk (create one first)"))?;
    let version = sqlx::query_scalar!(
        "select current_version from assistants where id = $1 and org_id = $2",
        assistant_id,
        org
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::invalid("assistantId", "no such assistant"))?;
    let mut v = Validator::new();
    let on_dnc = sqlx::query_scalar!(
        r#"select exists(select 1 from dnc where org_id = $1 and phone = $2) as "hit!""#,
        org,
        to.as_str()
    )
    .fetch_one(&state.db)
    .await?;
    v.check(!on_dnc, "to", "the number is on the Do-Not-Call list");
    let from = match &body.from {
        Some(raw) => match PhoneNumber::parse(raw, None) {
            Ok(n) => Some(n.to_string()),
            Err(err) => {
                v.push("from", err.to_string());
                None
            }
        },
        None => trunk.numbers.first().cloned(),
    };
    v.finish()?;
    if trunk.mode == "twilio_stream" {
        let now = state.engine.clock().now();
        let free = crate::engine::free_stream_slots(
            &state.db,
            now,
            state.settings.workers.heartbeat_ttl_sec,
        )
        .await?;
        if free <= 0 {
            return Err(ApiError::Unavailable(
                "no agent worker has a free slot".into(),
            ));
        }
    }
    let call_id = Uuid::now_v7();
    sqlx::query!(
        "insert into calls (id, org_id, campaign_id, assistant_id, assistant_version, trunk_id,
                            mode, to_phone, from_phone, status, variables, created_at, heard_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $11, $11)",
        call_id,
        org,
        body.campaign_id,
        assistant_id,
        version,
        trunk.id,
        trunk.mode,
        to.as_str(),
        from,
        Value::Object(body.variables),
        state.engine.clock().now()
    )
    .execute(&state.db)
    .await?;
    tracing::info!(call_id = %call_id, to = %to.masked(), "single call queued");
    let engine = state.engine.clone();
    tokio::spawn(async move { engine.place_single_call(call_id).await });
    let row = calls::get(&state.db, org, call_id)
        .await?
        .ok_or(ApiError::NotFound("call"))?;
    Ok((StatusCode::CREATED, ApiJson(row.try_into()?)))
}

/// Hangs up a live call (a call that already ended is left as it is).
#[utoipa::path(post, path = "/api/v1/calls/{id}/end", tag = "calls", params(("id" = Uuid, Path)),
    responses((status = 200, body = CallView), (status = 404, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
pub(super) async fn end_call(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<CallView>, ApiError> {
    let row = calls::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("call"))?;
    let status: shared::CallStatus = row.status.parse().map_err(anyhow::Error::new)?;
    if !status.is_terminal() {
        match &row.provider_call_id {
            Some(_) => {
                let live = state.engine.live_call(id).await?.ok_or_else(|| {
                    ApiError::BadGateway("no provider account for this call".into())
                })?;
                // The reason goes first: a LiveKit hang-up (DeleteRoom) returns after the
                // agent in the room has seen it leave, and the worker's `ended` (the
                // callee's media gone) would otherwise be first to name the end. If the
                // hang-up fails the operator gets a 502 and the call's end, whenever it
                // comes, is still theirs to have asked for.
                sqlx::query!(
                    "update calls set end_reason = coalesce(end_reason, 'ended_by_operator') where id = $1",
                    id
                )
                .execute(&state.db)
                .await?;
                live.dialer
                    .hang_up(&live.account, &live.provider_call_id)
                    .await
                    .map_err(|err| ApiError::BadGateway(err.to_string()))?;
            }
            None => {
                sqlx::query!(
                    "update calls set status = 'canceled', end_reason = 'ended_by_operator',
                                      ended_at = $2, heard_at = $2
                     where id = $1 and status = 'queued'",
                    id,
                    state.engine.clock().now()
                )
                .execute(&state.db)
                .await?;
            }
        }
    }
    let row = calls::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("call"))?;
    Ok(ApiJson(row.try_into()?))
}
