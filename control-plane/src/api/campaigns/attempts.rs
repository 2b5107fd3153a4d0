//! `GET /api/v1/campaigns/{id}/attempts`: each contact's place in the dial queue, with the
//! audit of every dial decision the engine made about it.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::campaign::AttemptState;
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_attempts))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AttemptsQuery {
    /// Only attempts in this state.
    pub state: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// One decision of the engine about an attempt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionView {
    pub at: DateTime<Utc>,
    /// `dialed`, `deferred_window`, `skipped_dnc`, `skipped_window`, `exhausted`, ...
    pub decision: String,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub phone: String,
    pub name: Option<String>,
    /// pending, leased, dialing, in_call, done, exhausted, skipped, canceled.
    pub state: String,
    /// Dials made so far.
    pub attempts: i32,
    /// When a pending attempt is due (the next retry time).
    pub next_attempt_at: DateTime<Utc>,
    pub last_result: Option<String>,
    /// Why it was skipped or deferred: dnc, window, cap, budget, invalid_number.
    pub skip_reason: Option<String>,
    pub last_call_id: Option<Uuid>,
    pub callback_at: Option<DateTime<Utc>>,
    #[schema(value_type = Vec<Object>)]
    pub results: Value,
    /// The engine's decisions, oldest first (the last 20).
    pub decisions: Vec<DecisionView>,
}

/// The campaign's attempts with their states and decision audit.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/attempts", tag = "campaigns",
    params(("id" = Uuid, Path), AttemptsQuery),
    responses((status = 200, body = Page<AttemptView>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_attempts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<AttemptsQuery>,
) -> Result<ApiJson<Page<AttemptView>>, ApiError> {
    let page = PageQuery {
        page: query.page,
        per_page: query.per_page,
    };
    let (limit, offset) = page.limit_offset()?;
    if let Some(wanted) = &query.state {
        wanted
            .parse::<AttemptState>()
            .map_err(|err| ApiError::invalid("state", err.to_string()))?;
    }
    let exists = sqlx::query_scalar!(
        r#"select exists(select 1 from campaigns where id = $1 and org_id = $2) as "found!""#,
        id,
        caller.org_id
    )
    .fetch_one(&state.db)
    .await?;
    if !exists {
        return Err(ApiError::NotFound("campaign"));
    }
    let rows = sqlx::query!(
        r#"select a.id, a.contact_id, c.phone, c.name, a.state, a.attempts, a.next_attempt_at,
                  a.last_result, a.skip_reason, a.last_call_id, a.callback_at, a.result_history,
                  coalesce((select jsonb_agg(jsonb_build_object('at', d.decided_at, 'decision', d.decision,
                                                                'detail', d.detail) order by d.id)
                            from (select * from attempt_decisions where attempt_id = a.id
                                  order by id desc limit 20) d), '[]'::jsonb) as "decisions!"
           from campaign_attempts a join contacts c on c.id = a.contact_id
           where a.campaign_id = $1 and a.org_id = $2 and ($3::text is null or a.state = $3)
           order by c.created_at, a.id
           limit $4 offset $5"#,
        id,
        caller.org_id,
        query.state,
        limit,
        offset
    )
    .fetch_all(&state.db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from campaign_attempts
           where campaign_id = $1 and org_id = $2 and ($3::text is null or state = $3)"#,
        id,
        caller.org_id,
        query.state
    )
    .fetch_one(&state.db)
    .await?;
    let data = rows
        .into_iter()
        .map(|r| {
            Ok(AttemptView {
                id: r.id,
                contact_id: r.contact_id,
                phone: r.phone,
                name: r.name,
                state: r.state,
                attempts: r.attempts,
                next_attempt_at: r.next_attempt_at,
                last_result: r.last_result,
                skip_reason: r.skip_reason,
                last_call_id: r.last_call_id,
                callback_at: r.callback_at,
                results: r.result_history,
                decisions: serde_json::from_value(r.decisions).map_err(anyhow::Error::from)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(ApiJson(Page::new(data, total, page)?))
}
