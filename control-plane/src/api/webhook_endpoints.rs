//! `/api/v1/webhook-endpoints`: where an organization's events are delivered (create with
//! the signing secret shown once, list, get, update, delete), each endpoint's delivery log,
//! and redelivery of one delivery.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::webhooks::{self as store, DeliveryRow, EndpointRow, NewEndpoint};
use crate::error::{ApiError, ErrorBody, Validator};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::integrations::{signature, EVENT_TYPES};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// The event types delivered here.
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EndpointRow> for EndpointView {
    fn from(row: EndpointRow) -> Self {
        Self {
            id: row.id,
            url: row.url,
            description: row.description,
            event_types: row.event_types,
            enabled: row.enabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The one time the signing secret is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// Signs every delivery (`Webhook-Signature`); never shown again.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEndpoint {
    /// An `https://` (or `http://`) URL that takes POSTs.
    pub url: String,
    pub description: Option<String>,
    /// Among `call.status`, `call.report`, `campaign.started`, `campaign.paused`,
    /// `campaign.completed`, `campaign.stopped`, `campaign.failed`, `contact.opted_out`.
    pub event_types: Vec<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Fields to change; absent ones stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateEndpoint {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

fn validate(url: &str, description: Option<&str>, event_types: &[String]) -> Result<(), ApiError> {
    let mut v = Validator::new();
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            v.check(
                matches!(parsed.scheme(), "https" | "http") && parsed.host().is_some(),
                "url",
                "must be an http(s) URL with a host",
            );
        }
        Err(err) => v.push("url", format!("is not a URL: {err}")),
    }
    v.check(url.len() <= 2048, "url", "must be at most 2048 characters")
        .check(
            description.is_none_or(|d| d.len() <= 500),
            "description",
            "must be at most 500 characters",
        )
        .check(
            !event_types.is_empty(),
            "eventTypes",
            "must name at least one event type",
        );
    for (i, kind) in event_types.iter().enumerate() {
        v.check(
            EVENT_TYPES.contains(&kind.as_str()),
            &format!("eventTypes[{i}]"),
            format!("unknown event type; one of {}", EVENT_TYPES.join(", ")),
        );
    }
    v.finish()
}

/// Registers an endpoint. The answer carries its signing secret, shown only this once.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints", tag = "webhooks",
    request_body = CreateEndpoint,
    responses((status = 201, body = CreatedEndpoint), (status = 422, body = ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> Result<(StatusCode, ApiJson<CreatedEndpoint>), ApiError> {
    let mut event_types = body.event_types;
    event_types.dedup();
    validate(&body.url, body.description.as_deref(), &event_types)?;
    let secret = signature::new_secret();
    let sealed = state.secrets.seal(&secret);
    let row = store::insert_endpoint(
        &state.db,
        caller.org_id,
        &NewEndpoint {
            url: &body.url,
            description: body.description.as_deref(),
            event_types: &event_types,
            secret_enc: &sealed,
            enabled: body.enabled.unwrap_or(true),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedEndpoint {
            endpoint: row.into(),
            secret,
        }),
    ))
}

/// The organization's endpoints, oldest first.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints", tag = "webhooks", params(PageQuery),
    responses((status = 200, body = Page<EndpointView>)))]
async fn list_endpoints(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<EndpointView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = store::list_endpoints(&state.db, caller.org_id, limit, offset).await?;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(EndpointView::from).collect(),
        total,
        page,
    )?))
}

#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<EndpointView>, ApiError> {
    let row = store::get_endpoint(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))?;
    Ok(ApiJson(row.into()))
}

/// Changes an endpoint. Events already queued keep going to it (to the new URL); a
/// disabled endpoint gets no new events and its queued ones wait until it is enabled.
#[utoipa::path(patch, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = Uuid, Path)), request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateEndpoint>,
) -> Result<ApiJson<EndpointView>, ApiError> {
    let current = store::get_endpoint(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))?;
    let url = body.url.unwrap_or(current.url);
    let description = body.description.or(current.description);
    let mut event_types = body.event_types.unwrap_or(current.event_types);
    event_types.dedup();
    validate(&url, description.as_deref(), &event_types)?;
    let row = store::update_endpoint(
        &state.db,
        caller.org_id,
        id,
        &url,
        description.as_deref(),
        &event_types,
        body.enabled.unwrap_or(current.enabled),
    )
    .await?
    .ok_or(ApiError::NotFound("webhook endpoint"))?;
    Ok(ApiJson(row.into()))
}

/// Deletes an endpoint with its delivery log; queued deliveries are dropped, and a
/// campaign's pre-dial check that signs with it is removed.
#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    if store::delete_endpoint(&state.db, caller.org_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("webhook endpoint"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub call_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    /// `pending`, `succeeded` or `failed` (given up after the retry window).
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The endpoint's last HTTP status, if it answered.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// When the event was recorded.
    pub created_at: DateTime<Utc>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(row: DeliveryRow) -> Self {
        Self {
            id: row.id,
            event_id: row.event_id,
            event_type: row.event_type,
            call_id: row.call_id,
            campaign_id: row.campaign_id,
            state: row.state,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_attempt_at: row.last_attempt_at,
            last_status: row.last_status,
            last_error: row.last_error,
            delivered_at: row.delivered_at,
            created_at: row.created_at,
        }
    }
}

/// `?state=&page=&perPage=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// `pending`, `succeeded` or `failed`.
    pub state: Option<String>,
    /// Page number, from 1 (default 1).
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    pub per_page: Option<i64>,
}

/// The endpoint's delivery log, newest event first.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path), DeliveriesQuery),
    responses((status = 200, body = Page<DeliveryView>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<ApiJson<Page<DeliveryView>>, ApiError> {
    if let Some(s) = query.state.as_deref() {
        if !matches!(s, "pending" | "succeeded" | "failed") {
            return Err(ApiError::invalid(
                "state",
                "must be pending, succeeded or failed",
            ));
        }
    }
    store::get_endpoint(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))?;
    let page = PageQuery {
        page: query.page,
        per_page: query.per_page,
    };
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = store::list_deliveries(
        &state.db,
        caller.org_id,
        id,
        query.state.as_deref(),
        limit,
        offset,
    )
    .await?;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(DeliveryView::from).collect(),
        total,
        page,
    )?))
}

/// Sends a delivery again (after its endpoint was fixed, say): it is queued from its first
/// attempt, with a new retry window. One being sent right now is left as it is.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/redeliver",
    tag = "webhooks", params(("id" = Uuid, Path), ("deliveryId" = i64, Path)),
    responses((status = 202, body = DeliveryView), (status = 404, body = ErrorBody)))]
async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, delivery_id)): ApiPath<(Uuid, i64)>,
) -> Result<(StatusCode, ApiJson<DeliveryView>), ApiError> {
    let now = state.engine.clock().now();
    let row = store::redeliver(&state.db, caller.org_id, id, delivery_id, now)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    Ok((StatusCode::ACCEPTED, ApiJson(row.into())))
}
