//! `POST /api/v1/campaigns/{id}/{start,pause,resume,stop}`: the operator's moves through
//! the campaign state machine, each with its effect on the dial queue, in one transaction.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{parse_status, CampaignView};
use crate::auth::Caller;
use crate::db::campaigns::{self, queue};
use crate::domain::campaign::CampaignAction;
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_campaign))
        .routes(routes!(pause_campaign))
        .routes(routes!(resume_campaign))
        .routes(routes!(stop_campaign))
}

/// Applies `action`: the conditional status update, then the queue work, then the view.
async fn apply(
    state: &AppState,
    caller: Caller,
    id: Uuid,
    action: CampaignAction,
) -> Result<ApiJson<CampaignView>, ApiError> {
    let now = state.engine.clock().now();
    let mut tx = state.db.begin().await?;
    let Some(list_id) = queue::transition(&mut tx, caller.org_id, id, action, now).await? else {
        drop(tx);
        // Nothing moved: either there is no such campaign or its status forbids the action.
        let row = campaigns::get(&state.db, caller.org_id, id)
            .await?
            .ok_or(ApiError::NotFound("campaign"))?;
        let status = parse_status(&row.status)?;
        return Err(match status.apply(action) {
            Err(refused) => ApiError::Conflict(refused.to_string()),
            // Another request moved it in between; report against what we saw then.
            Ok(_) => ApiError::Conflict(format!(
                "the campaign changed status concurrently; cannot {action} it now"
            )),
        });
    };
    if action.enqueues_contacts() {
        let added = queue::enqueue_contacts(&mut tx, caller.org_id, id, list_id, now).await?;
        if action == CampaignAction::Start && added == 0 {
            return Err(ApiError::Conflict(
                "cannot start a campaign whose contact list is empty".into(),
            ));
        }
    }
    if action == CampaignAction::Stop {
        queue::cancel_pending(&mut tx, caller.org_id, id).await?;
    }
    let row = campaigns::get(&mut *tx, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    tx.commit().await?;
    tracing::info!(campaign_id = %id, %action, "campaign moved to {}", row.status);
    Ok(ApiJson(row.try_into()?))
}

/// Starts a draft: queues one attempt per contact of its list (refused if it is empty).
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/start", tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn start_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    apply(&state, caller, id, CampaignAction::Start).await
}

/// Pauses a running campaign; its queue is kept and calls in progress finish.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/pause", tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn pause_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    apply(&state, caller, id, CampaignAction::Pause).await
}

/// Resumes a paused (or errored) campaign, queueing contacts added to its list since.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/resume", tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn resume_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    apply(&state, caller, id, CampaignAction::Resume).await
}

/// Stops a campaign for good: pending attempts are canceled, calls in progress finish.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/stop", tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn stop_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    apply(&state, caller, id, CampaignAction::Stop).await
}
