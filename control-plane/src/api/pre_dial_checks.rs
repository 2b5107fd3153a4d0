//! `/api/v1/campaigns/{id}/pre-dial-check`: the optional question a campaign asks the
//! customer before each dial (see `integrations::pre_dial`): set, read, remove.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Validator};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_check, get_check, delete_check))
}

/// A campaign's pre-dial check.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreDialCheck {
    /// The webhook endpoint whose secret signs the request (and whose URL is asked when
    /// `url` is not given).
    pub endpoint_id: Uuid,
    /// Where to ask, if not the endpoint's URL.
    pub url: Option<String>,
    /// How long to wait for the answer, 50 to 10,000 ms (default 2,000).
    pub timeout_ms: Option<i32>,
    /// What a timeout, an error or an unreadable answer counts as: `eligible` (default)
    /// or `ineligible`.
    pub default_answer: Option<String>,
}

/// Sets (or replaces) the campaign's pre-dial check; it applies from the next dial.
#[utoipa::path(put, path = "/api/v1/campaigns/{id}/pre-dial-check", tag = "campaigns",
    params(("id" = Uuid, Path)), request_body = PreDialCheck,
    responses((status = 200, body = PreDialCheck), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn put_check(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<PreDialCheck>,
) -> Result<ApiJson<PreDialCheck>, ApiError> {
    let timeout_ms = body.timeout_ms.unwrap_or(2000);
    let default_answer = body.default_answer.as_deref().unwrap_or("eligible");
    let mut v = Validator::new();
    v.check(
        (50..=10_000).contains(&timeout_ms),
        "timeoutMs",
        "must be between 50 and 10000",
    )
    .check(
        matches!(default_answer, "eligible" | "ineligible"),
        "defaultAnswer",
        "must be eligible or ineligible",
    );
    if let Some(url) = &body.url {
        v.check(
            reqwest::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()),
            "url",
            "must be an http(s) URL with a host",
        );
    }
    v.finish()?;
    let campaign = sqlx::query_scalar!(
        "select id from campaigns where id = $1 and org_id = $2",
        id,
        caller.org_id
    )
    .fetch_optional(&state.db)
    .await?;
    campaign.ok_or(ApiError::NotFound("campaign"))?;
    let endpoint = sqlx::query_scalar!(
        "select id from webhook_endpoints where id = $1 and org_id = $2",
        body.endpoint_id,
        caller.org_id
    )
    .fetch_optional(&state.db)
    .await?;
    if endpoint.is_none() {
        return Err(ApiError::invalid("endpointId", "no such webhook endpoint"));
    }
    sqlx::query!(
        "insert into campaign_pre_dial_checks (campaign_id, org_id, endpoint_id, url, timeout_ms, default_eligible)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (campaign_id) do update
         set endpoint_id = $3, url = $4, timeout_ms = $5, default_eligible = $6",
        id,
        caller.org_id,
        body.endpoint_id,
        body.url,
        timeout_ms,
        default_answer == "eligible"
    )
    .execute(&state.db)
    .await?;
    Ok(ApiJson(PreDialCheck {
        endpoint_id: body.endpoint_id,
        url: body.url,
        timeout_ms: Some(timeout_ms),
        default_answer: Some(default_answer.to_string()),
    }))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}/pre-dial-check", tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PreDialCheck),
        (status = 404, body = ErrorBody, description = "No such campaign, or it has no check")))]
async fn get_check(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<PreDialCheck>, ApiError> {
    let row = sqlx::query!(
        "select endpoint_id, url, timeout_ms, default_eligible from campaign_pre_dial_checks
         where campaign_id = $1 and org_id = $2",
        id,
        caller.org_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(ApiError::NotFound("pre-dial check"))?;
    Ok(ApiJson(PreDialCheck {
        endpoint_id: row.endpoint_id,
        url: row.url,
        timeout_ms: Some(row.timeout_ms),
        default_answer: Some(
            if row.default_eligible {
                "eligible"
            } else {
                "ineligible"
            }
            .to_string(),
        ),
    }))
}

/// Removes the check: the campaign dials without asking.
#[utoipa::path(delete, path = "/api/v1/campaigns/{id}/pre-dial-check", tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_check(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let done = sqlx::query!(
        "delete from campaign_pre_dial_checks where campaign_id = $1 and org_id = $2",
        id,
        caller.org_id
    )
    .execute(&state.db)
    .await?;
    if done.rows_affected() == 1 {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("pre-dial check"))
    }
}
