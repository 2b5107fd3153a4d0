//! `GET /api/v1/overview`: the numbers an operator's overview shows, computed in the
//! database in one pass over today's calls (in the caller's time zone): live calls,
//! today's calls and answer rate, outcomes, calls per hour, spend this month against the
//! monthly budgets of the campaigns still open, and turn latency percentiles over every
//! turn of today's calls.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::extract::State;
use chrono::{Datelike, TimeZone};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(overview))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// IANA time zone that "today" and the hours are in (default UTC).
    pub timezone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub timezone: String,
    /// Calls not yet over (queued, initiated, ringing, in progress), any day.
    pub live_calls: i64,
    /// Calls created today.
    pub calls_today: i64,
    /// Of today's calls, those answered (by a person or a machine).
    pub answered_today: i64,
    /// Of today's calls that are over, the share answered; 0 when none is over.
    pub answer_rate: f64,
    /// Today's calls by status.
    pub statuses: BTreeMap<String, i64>,
    /// Today's calls by outcome (calls without one are not counted).
    pub outcomes: BTreeMap<String, i64>,
    /// Today's calls per local hour, 24 buckets from midnight.
    pub calls_per_hour: Vec<i64>,
    pub spend_today_cents: f64,
    pub spend_month_cents: f64,
    /// Sum of the monthly budgets of running and paused campaigns (None: none has one).
    pub monthly_budget_cents: Option<i64>,
    /// End of callee speech to first agent audio, over every turn of today's calls.
    pub turn_latency_p50_ms: Option<f64>,
    pub turn_latency_p95_ms: Option<f64>,
    pub turns_today: i64,
}

/// Today's activity at a glance.
#[utoipa::path(get, path = "/api/v1/overview", tag = "metrics", params(OverviewQuery),
    responses((status = 200, body = Overview), (status = 422, body = ErrorBody)))]
async fn overview(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<OverviewQuery>,
) -> Result<ApiJson<Overview>, ApiError> {
    let name = query
        .timezone
        .as_deref()
        .unwrap_or("UTC")
        .trim()
        .to_string();
    let tz = chrono_tz::Tz::from_str(&name).map_err(|_| {
        ApiError::invalid("timezone", "must be an IANA time zone such as Europe/Paris")
    })?;
    let now = state.engine.clock().now().with_timezone(&tz);
    let midnight = tz
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .earliest()
        .map(|t| t.to_utc())
        .unwrap_or_else(|| now.to_utc() - chrono::Duration::hours(24));
    let month_start = tz
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .earliest()
        .map(|t| t.to_utc())
        .unwrap_or(midnight);
    let org = caller.org_id;

    let totals = sqlx::query!(
        r#"select
             (select count(*) from calls where org_id = $1
                and status in ('queued', 'initiated', 'ringing', 'in_progress')) as "live!",
             count(*) as "today!",
             count(answered_at) as "answered!",
             count(answered_at) filter (where ended_at is not null
                or status in ('completed', 'busy', 'no_answer', 'failed', 'canceled')) as "answered_over!",
             count(*) filter (where ended_at is not null
                or status in ('completed', 'busy', 'no_answer', 'failed', 'canceled')) as "over!",
             coalesce(sum(cost_cents), 0)::float8 as "spend_today!",
             (select coalesce(sum(cost_cents), 0)::float8 from calls
                where org_id = $1 and created_at >= $3) as "spend_month!",
             (select sum(budget_monthly_cents)::int8 from campaigns
                where org_id = $1 and status in ('running', 'paused')) as "budget"
           from calls where org_id = $1 and created_at >= $2"#,
        org,
        midnight,
        month_start
    )
    .fetch_one(&state.db)
    .await?;

    let groups = sqlx::query!(
        r#"select 'status' as "kind!", status as "key!", count(*) as "n!"
             from calls where org_id = $1 and created_at >= $2 group by status
           union all
           select 'outcome', outcome, count(*)
             from calls where org_id = $1 and created_at >= $2 and outcome is not null
             group by outcome
           union all
           select 'hour', extract(hour from created_at at time zone $3)::int::text, count(*)
             from calls where org_id = $1 and created_at >= $2 group by 2"#,
        org,
        midnight,
        name
    )
    .fetch_all(&state.db)
    .await?;
    let mut statuses = BTreeMap::new();
    let mut outcomes = BTreeMap::new();
    let mut calls_per_hour = vec![0i64; 24];
    for row in groups {
        match row.kind.as_str() {
            "status" => {
                statuses.insert(row.key, row.n);
            }
            "outcome" => {
                outcomes.insert(row.key, row.n);
            }
            _ => {
                if let Some(slot) = row
                    .key
                    .parse::<usize>()
                    .ok()
                    .and_then(|h| calls_per_hour.get_mut(h))
                {
                    *slot = row.n;
                }
            }
        }
    }

    let latency = sqlx::query!(
        r#"select
             percentile_cont(0.5) within group (order by ms) as p50,
             percentile_cont(0.95) within group (order by ms) as p95,
             count(ms) as "turns!"
           from (
             select (turn ->> 'endOfSpeechToAudioMs')::float8 as ms
             from calls, jsonb_array_elements(
                 case when jsonb_typeof(latency -> 'turns') = 'array'
                      then latency -> 'turns' else '[]'::jsonb end) as turn
             where org_id = $1 and created_at >= $2
               and turn ->> 'endOfSpeechToAudioMs' is not null
           ) turns"#,
        org,
        midnight
    )
    .fetch_one(&state.db)
    .await?;

    let over = totals.over.max(1);
    Ok(ApiJson(Overview {
        timezone: name,
        live_calls: totals.live,
        calls_today: totals.today,
        answered_today: totals.answered,
        answer_rate: totals.answered_over as f64 / over as f64,
        statuses,
        outcomes,
        calls_per_hour,
        spend_today_cents: totals.spend_today,
        spend_month_cents: totals.spend_month,
        monthly_budget_cents: totals.budget,
        turn_latency_p50_ms: latency.p50,
        turn_latency_p95_ms: latency.p95,
        turns_today: latency.turns,
    }))
}
