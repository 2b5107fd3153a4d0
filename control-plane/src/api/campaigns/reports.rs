//! `GET /api/v1/campaigns/{id}/{status,stats,calls}`: how far the queue is, what the calls
//! achieved, and the calls themselves.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::parse_status;
use crate::api::calls::{call_page, CallView};
use crate::auth::Caller;
use crate::compliance::abandonment::{self, Abandonment};
use crate::db::calls::{self, CallFilter};
use crate::db::campaigns::{self, queue};
use crate::db::metrics::{self, CallTally};
use crate::domain::campaign::{AttemptState, CampaignStatus};
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::state::AppState;
use shared::{CallOutcome, CallStatus};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(campaign_status))
        .routes(routes!(campaign_stats))
        .routes(routes!(campaign_calls))
}

/// The dial queue by attempt state.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Contacts queued in all.
    pub total: i64,
    pub pending: i64,
    /// Leased by the engine, being dialed, or in a call.
    pub in_progress: i64,
    pub done: i64,
    /// Every allowed attempt was used without reaching anyone.
    pub exhausted: i64,
    /// Never dialed (Do-Not-Call, invalid number, ...).
    pub skipped: i64,
    pub canceled: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignProgress {
    pub id: Uuid,
    pub status: CampaignStatus,
    pub status_reason: Option<String>,
    pub progress: Progress,
}

/// The campaign's status and how far its queue is.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/status", tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignProgress), (status = 404, body = ErrorBody)))]
async fn campaign_status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<CampaignProgress>, ApiError> {
    let row = campaigns::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    let mut progress = Progress::default();
    for (attempt_state, n) in queue::progress(&state.db, caller.org_id, id).await? {
        progress.total += n;
        let slot = match attempt_state {
            AttemptState::Pending => &mut progress.pending,
            AttemptState::Leased | AttemptState::Dialing | AttemptState::InCall => {
                &mut progress.in_progress
            }
            AttemptState::Done => &mut progress.done,
            AttemptState::Exhausted => &mut progress.exhausted,
            AttemptState::Skipped => &mut progress.skipped,
            AttemptState::Canceled => &mut progress.canceled,
        };
        *slot += n;
    }
    Ok(ApiJson(CampaignProgress {
        id,
        status: parse_status(&row.status)?,
        status_reason: row.status_reason,
        progress,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeCounts {
    pub interested: i64,
    pub not_interested: i64,
    pub callback: i64,
    pub do_not_call: i64,
    pub voicemail: i64,
    pub wrong_number: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCounts {
    pub queued: i64,
    pub initiated: i64,
    pub ringing: i64,
    pub in_progress: i64,
    pub completed: i64,
    pub busy: i64,
    pub no_answer: i64,
    pub failed: i64,
    pub canceled: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignStats {
    pub calls_total: i64,
    /// Ended calls that were picked up (completed, or answered before failing).
    pub answered: i64,
    /// `answered` over the calls that ended; 0 when none has.
    pub answer_rate: f64,
    /// Over the calls that have a duration; 0 when none has.
    pub average_duration_sec: f64,
    pub total_cost_cents: f64,
    pub outcomes: OutcomeCounts,
    pub by_status: StatusCounts,
    /// Answered calls whose agent was not heard within 2 s, over the last 30 days.
    pub abandonment: Abandonment,
}

impl CampaignStats {
    fn new(t: CallTally, abandonment: Abandonment) -> Self {
        Self {
            calls_total: t.total,
            answered: t.answered,
            answer_rate: t.share_of_terminal(t.answered),
            average_duration_sec: t.average_duration_sec,
            total_cost_cents: t.cost_cents,
            outcomes: OutcomeCounts {
                interested: t.outcome(CallOutcome::Interested),
                not_interested: t.outcome(CallOutcome::NotInterested),
                callback: t.outcome(CallOutcome::Callback),
                do_not_call: t.outcome(CallOutcome::DoNotCall),
                voicemail: t.outcome(CallOutcome::Voicemail),
                wrong_number: t.outcome(CallOutcome::WrongNumber),
            },
            by_status: StatusCounts {
                queued: t.status(CallStatus::Queued),
                initiated: t.status(CallStatus::Initiated),
                ringing: t.status(CallStatus::Ringing),
                in_progress: t.status(CallStatus::InProgress),
                completed: t.status(CallStatus::Completed),
                busy: t.status(CallStatus::Busy),
                no_answer: t.status(CallStatus::NoAnswer),
                failed: t.status(CallStatus::Failed),
                canceled: t.status(CallStatus::Canceled),
            },
            abandonment,
        }
    }
}

/// What the campaign's calls achieved.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/stats", tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignStats), (status = 404, body = ErrorBody)))]
async fn campaign_stats(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<CampaignStats>, ApiError> {
    let row = campaigns::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    let tally = metrics::call_tally(&state.db, caller.org_id, Some(id)).await?;
    let now = state.engine.clock().now();
    let abandonment =
        abandonment::measure(&state.db, id, row.abandonment_threshold_pct, now).await?;
    Ok(ApiJson(CampaignStats::new(tally, abandonment)))
}

/// The campaign's calls, newest first.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/calls", tag = "campaigns",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<CallView>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn campaign_calls(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<CallView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    if !campaigns::exists(&state.db, caller.org_id, id).await? {
        return Err(ApiError::NotFound("campaign"));
    }
    let filter = CallFilter {
        campaign_id: Some(id),
        ..CallFilter::default()
    };
    let (rows, total) = calls::list(&state.db, caller.org_id, filter, limit, offset).await?;
    Ok(ApiJson(call_page(rows, total, page)?))
}
