//! `/api/v1/campaigns`: CRUD here; the life cycle (start, pause, resume, stop) in
//! [`lifecycle`]; progress, stats and the campaign's calls in [`reports`].

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::campaigns::{self, CampaignRow};
use crate::db::Tx;
use crate::domain::campaign::{
    Amd, Budget, CampaignInput, CampaignSettings, CampaignStatus, Retry, Schedule, Voicemail,
};
use crate::domain::trunk::TrunkMode;
use crate::error::{ApiError, ErrorBody, Validator};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::state::AppState;

pub mod attempts;
pub mod lifecycle;
pub mod reports;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_campaign, list_campaigns))
        .routes(routes!(get_campaign, update_campaign, delete_campaign))
        .merge(attempts::router())
        .merge(lifecycle::router())
        .merge(reports::router())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignView {
    pub id: Uuid,
    pub name: String,
    pub assistant_id: Uuid,
    pub contact_list_id: Uuid,
    pub trunk_id: Uuid,
    pub mode: TrunkMode,
    pub schedule: Schedule,
    pub allow_outside_legal_hours: bool,
    pub daily_cap: Option<i32>,
    pub max_concurrent_calls: i32,
    pub calls_per_minute: Option<i32>,
    pub max_attempts: i32,
    pub retry: Retry,
    pub amd: Amd,
    pub voicemail: Voicemail,
    pub budget: Budget,
    pub campaign_prompt: Option<String>,
    #[schema(value_type = Object)]
    pub variables: Value,
    /// Dials only contacts with written consent.
    pub telemarketing: bool,
    /// The campaign pauses above this abandonment rate.
    pub abandonment_threshold_pct: f64,
    pub status: CampaignStatus,
    /// Why the campaign is in `error` (or how the engine ended it).
    pub status_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<CampaignRow> for CampaignView {
    type Error = ApiError;

    fn try_from(row: CampaignRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.id,
            name: row.name,
            assistant_id: row.assistant_id,
            contact_list_id: row.contact_list_id,
            trunk_id: row.trunk_id,
            mode: row.mode.parse().map_err(anyhow::Error::new)?,
            schedule: Schedule {
                timezone: row.timezone,
                calling_days: row.calling_days,
                start_hour: row.start_hour.into(),
                end_hour: row.end_hour.into(),
            },
            allow_outside_legal_hours: row.allow_outside_legal_hours,
            daily_cap: row.daily_cap,
            max_concurrent_calls: row.max_concurrent_calls,
            calls_per_minute: row.calls_per_minute,
            max_attempts: row.max_attempts,
            retry: Retry {
                busy: row.retry_busy_min,
                no_answer: row.retry_no_answer_min,
                failed: row.retry_failed_min,
                voicemail: row.retry_voicemail_min,
            },
            amd: Amd {
                enabled: row.amd_enabled,
                timeout_sec: row.amd_timeout_sec,
            },
            voicemail: Voicemail {
                action: row.voicemail_action,
            },
            budget: Budget {
                per_call_cents: row.budget_per_call_cents,
                monthly_cents: row.budget_monthly_cents,
            },
            campaign_prompt: row.campaign_prompt,
            variables: row.variables,
            telemarketing: row.telemarketing,
            abandonment_threshold_pct: row.abandonment_threshold_pct,
            status: parse_status(&row.status)?,
            status_reason: row.status_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
        })
    }
}

fn parse_status(text: &str) -> Result<CampaignStatus, ApiError> {
    text.parse()
        .map_err(|err| ApiError::Internal(anyhow::Error::new(err)))
}

/// Validates the body, including that the assistant, list and trunk are the caller's and
/// that the mode matches the trunk's; reports every failure at once.
async fn settings(
    tx: &mut Tx<'_>,
    org_id: Uuid,
    body: CampaignInput,
) -> Result<CampaignSettings, ApiError> {
    let refs = campaigns::references(
        tx,
        org_id,
        body.assistant_id,
        body.contact_list_id,
        body.trunk_id,
    )
    .await?;
    let mut v = Validator::new();
    v.check(refs.assistant, "assistantId", "no such assistant")
        .check(refs.contact_list, "contactListId", "no such contact list")
        .check(refs.trunk_mode.is_some(), "trunkId", "no such trunk");
    let trunk_mode = refs
        .trunk_mode
        .map(|m| m.parse::<TrunkMode>())
        .transpose()
        .map_err(anyhow::Error::new)?;
    body.into_settings(v, trunk_mode)
}

/// Creates a campaign as a draft.
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = CampaignInput,
    responses((status = 201, body = CampaignView), (status = 422, body = ErrorBody)))]
async fn create_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CampaignInput>,
) -> Result<(StatusCode, ApiJson<CampaignView>), ApiError> {
    let mut tx = state.db.begin().await?;
    let settings = settings(&mut tx, caller.org_id, body).await?;
    let row = campaigns::insert(&mut tx, caller.org_id, &settings).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(row.try_into()?)))
}

/// Lists campaigns, newest first.
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns", params(PageQuery),
    responses((status = 200, body = Page<CampaignView>), (status = 422, body = ErrorBody)))]
async fn list_campaigns(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<CampaignView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = campaigns::list(&state.db, caller.org_id, limit, offset).await?;
    let data = rows
        .into_iter()
        .map(TryInto::try_into)
        .collect::<Result<_, _>>()?;
    Ok(ApiJson(Page::new(data, total, page)?))
}

/// One campaign.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody)))]
async fn get_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    let row = campaigns::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    Ok(ApiJson(row.try_into()?))
}

/// Replaces a campaign's settings; only while it is a draft or paused. A started
/// campaign keeps its contact list (its queue was built from it).
#[utoipa::path(put, path = "/api/v1/campaigns/{id}", tag = "campaigns",
    params(("id" = Uuid, Path)), request_body = CampaignInput,
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CampaignInput>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    let mut tx = state.db.begin().await?;
    let status = campaigns::lock_status(&mut tx, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    let status = parse_status(&status)?;
    if !status.is_editable() {
        return Err(ApiError::Conflict(format!(
            "cannot edit a campaign that is {status}; pause it first"
        )));
    }
    if status != CampaignStatus::Draft {
        let list = campaigns::contact_list_of(&mut *tx, caller.org_id, id).await?;
        if list != Some(body.contact_list_id) {
            return Err(ApiError::Conflict(
                "the contact list of a started campaign cannot change".into(),
            ));
        }
    }
    let settings = settings(&mut tx, caller.org_id, body).await?;
    let row = campaigns::update(&mut tx, caller.org_id, id, &settings).await?;
    tx.commit().await?;
    Ok(ApiJson(row.try_into()?))
}

/// Deletes a campaign that is a draft or has ended (stopped, completed, error), with its
/// queue. Its calls stay, no longer linked to it.
#[utoipa::path(delete, path = "/api/v1/campaigns/{id}", tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.db.begin().await?;
    let status = campaigns::lock_status(&mut tx, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    let status = parse_status(&status)?;
    if !status.is_deletable() {
        return Err(ApiError::Conflict(format!(
            "cannot delete a campaign that is {status}; stop it first"
        )));
    }
    campaigns::delete(&mut tx, caller.org_id, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
