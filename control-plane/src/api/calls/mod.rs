//! `/api/v1/calls`: calls, and the outcome an operator may set; their transcript and
//! recordings in [`artifacts`]; placing and ending calls in [`actions`].

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::calls::{self, CallFilter, CallRow};
use crate::domain::trunk::TrunkMode;
use crate::error::{ApiError, ErrorBody, Validator};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::state::AppState;
use shared::{CallOutcome, CallStatus};

pub mod actions;
pub mod artifacts;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_calls, actions::create_call))
        .routes(routes!(actions::end_call))
        .routes(routes!(get_call))
        .routes(routes!(set_outcome))
        .merge(artifacts::router())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    pub id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub assistant_id: Option<Uuid>,
    /// The assistant version the call ran with.
    pub assistant_version: Option<i32>,
    pub trunk_id: Option<Uuid>,
    pub mode: TrunkMode,
    /// `outbound` (a dial) or `inbound` (a call to one of our numbers: `from` is the
    /// caller, `to` our number).
    pub direction: String,
    pub to: String,
    pub from: Option<String>,
    pub status: CallStatus,
    /// `human`, `machine_start`, ... as the carrier's answering-machine detection reported
    /// it, or `machine_agent` when the agent told a machine by its greeting.
    pub answered_by: Option<String>,
    pub outcome: Option<CallOutcome>,
    pub outcome_notes: Option<String>,
    pub provider_call_id: Option<String>,
    pub room_name: Option<String>,
    #[schema(value_type = Object)]
    pub variables: Value,
    pub started_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_sec: Option<i32>,
    pub end_reason: Option<String>,
    pub cost_cents: f64,
    #[schema(value_type = Object)]
    pub cost_breakdown: Value,
    #[schema(value_type = Object)]
    pub latency: Value,
    /// The post-call analysis (summary, structured data, success evaluation), on
    /// `GET /calls/{id}` once it ran; absent from lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub analysis: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<CallRow> for CallView {
    type Error = ApiError;

    fn try_from(row: CallRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.id,
            campaign_id: row.campaign_id,
            contact_id: row.contact_id,
            assistant_id: row.assistant_id,
            assistant_version: row.assistant_version,
            trunk_id: row.trunk_id,
            mode: row.mode.parse().map_err(anyhow::Error::new)?,
            direction: row.direction,
            to: row.to_phone,
            from: row.from_phone,
            status: row.status.parse().map_err(anyhow::Error::new)?,
            answered_by: row.answered_by,
            outcome: row
                .outcome
                .map(|o| o.parse())
                .transpose()
                .map_err(anyhow::Error::new)?,
            outcome_notes: row.outcome_notes,
            provider_call_id: row.provider_call_id,
            room_name: row.room_name,
            variables: row.variables,
            started_at: row.started_at,
            answered_at: row.answered_at,
            ended_at: row.ended_at,
            duration_sec: row.duration_sec,
            end_reason: row.end_reason,
            cost_cents: row.cost_cents,
            cost_breakdown: row.cost_breakdown,
            latency: row.latency,
            analysis: None,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A page of call rows as views.
pub(crate) fn call_page(
    rows: Vec<CallRow>,
    total: i64,
    page: PageQuery,
) -> Result<Page<CallView>, ApiError> {
    let data = rows
        .into_iter()
        .map(TryInto::try_into)
        .collect::<Result<_, _>>()?;
    Page::new(data, total, page)
}

/// `?campaignId=&status=&outcome=&from=&to=&page=&perPage=`. Page fields are repeated rather than
/// flattened: flattening breaks number parsing in query strings.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CallsQuery {
    pub campaign_id: Option<Uuid>,
    /// A call status such as `completed` or `no_answer`.
    #[param(value_type = Option<CallStatus>)]
    pub status: Option<String>,
    /// A call outcome such as `interested`.
    #[param(value_type = Option<CallOutcome>)]
    pub outcome: Option<String>,
    /// Calls created at or after this instant (RFC 3339, e.g. `2026-12-01T00:00:00Z`) or
    /// from the start of this UTC day (`2026-12-01`).
    pub from: Option<String>,
    /// Calls created before this instant (RFC 3339), or up to the end of this UTC day
    /// (`2026-12-07` includes the whole 7th).
    pub to: Option<String>,
    /// Page number, from 1 (default 1).
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    pub per_page: Option<i64>,
}

/// The organization's calls, newest first, optionally filtered.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", params(CallsQuery),
    responses((status = 200, body = Page<CallView>), (status = 422, body = ErrorBody)))]
async fn list_calls(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CallsQuery>,
) -> Result<ApiJson<Page<CallView>>, ApiError> {
    let mut v = Validator::new();
    let status = query.status.as_deref().and_then(|s| {
        let parsed = s.parse::<CallStatus>().ok();
        v.check(
            parsed.is_some(),
            "status",
            format!("must be one of {}", list(CallStatus::ALL)),
        );
        parsed
    });
    let outcome = query.outcome.as_deref().and_then(|s| {
        let parsed = s.parse::<CallOutcome>().ok();
        v.check(
            parsed.is_some(),
            "outcome",
            format!("must be one of {}", list(CallOutcome::ALL)),
        );
        parsed
    });
    let from = query.from.as_deref().and_then(|s| {
        let parsed = bound(s, false);
        v.check(parsed.is_some(), "from", BOUND_FORMAT);
        parsed
    });
    let until = query.to.as_deref().and_then(|s| {
        let parsed = bound(s, true);
        v.check(parsed.is_some(), "to", BOUND_FORMAT);
        parsed
    });
    if let (Some(from), Some(until)) = (from, until) {
        v.check(from < until, "to", "must be after `from`");
    }
    v.finish()?;
    let page = PageQuery {
        page: query.page,
        per_page: query.per_page,
    };
    let (limit, offset) = page.limit_offset()?;
    let filter = CallFilter {
        campaign_id: query.campaign_id,
        status,
        outcome,
        from,
        until,
    };
    let (rows, total) = calls::list(&state.db, caller.org_id, filter, limit, offset).await?;
    Ok(ApiJson(call_page(rows, total, page)?))
}

const BOUND_FORMAT: &str =
    "must be an RFC 3339 instant such as 2026-12-01T09:00:00Z or a date such as 2026-12-01";

/// A date filter's instant: RFC 3339 as given, or a UTC day's start (`from`) or the next
/// day's start (`to`, so a date bound includes its whole day).
fn bound(value: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(value) {
        return Some(instant.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let day = if end_of_day { day.succ_opt()? } else { day };
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

fn list<T: std::fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One call.
#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls", params(("id" = Uuid, Path)),
    responses((status = 200, body = CallView), (status = 404, body = ErrorBody)))]
async fn get_call(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<CallView>, ApiError> {
    let row = calls::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("call"))?;
    let mut view: CallView = row.try_into()?;
    view.analysis = crate::integrations::analysis::view(&state.db, caller.org_id, id).await?;
    Ok(ApiJson(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeInput {
    /// `interested`, `not_interested`, `callback`, `do_not_call`, `voicemail` or
    /// `wrong_number`.
    #[schema(value_type = CallOutcome)]
    pub outcome: String,
    /// Replaces the stored notes; omitted clears them.
    pub notes: Option<String>,
}

/// Sets the call's outcome (and notes) by hand.
#[utoipa::path(put, path = "/api/v1/calls/{id}/outcome", tag = "calls",
    params(("id" = Uuid, Path)), request_body = OutcomeInput,
    responses((status = 200, body = CallView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn set_outcome(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<OutcomeInput>,
) -> Result<ApiJson<CallView>, ApiError> {
    let outcome = body.outcome.parse::<CallOutcome>().map_err(|_| {
        ApiError::invalid(
            "outcome",
            format!("must be one of {}", list(CallOutcome::ALL)),
        )
    })?;
    let notes = body
        .notes
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if notes.is_some_and(|n| n.len() > 10_000) {
        return Err(ApiError::invalid(
            "notes",
            "must be at most 10000 characters",
        ));
    }
    if !calls::set_outcome(&state.db, caller.org_id, id, outcome, notes).await? {
        return Err(ApiError::NotFound("call"));
    }
    let row = calls::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("call"))?;
    Ok(ApiJson(row.try_into()?))
}
