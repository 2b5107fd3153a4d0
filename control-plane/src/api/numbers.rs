//! `/api/v1/numbers`: the organization's phone numbers that answer calls and texts. Each
//! sits on one of its trunks and names the assistant that answers, its business hours and
//! what a caller gets outside them or when no worker is free. The view carries the URLs to
//! set on the number at Twilio (voice, status and SMS webhooks).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::numbers::{self, NumberRow};
use crate::db::trunks;
use crate::domain::number::{
    BusinessHours, Fallback, FallbackAction, NumberDefinition, NumberInput,
};
use crate::error::{conflict_on_unique, ApiError, ErrorBody, Validator};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_number, list_numbers))
        .routes(routes!(get_number, update_number, delete_number))
}

/// The webhooks Twilio calls for this number.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumberWebhooks {
    /// The number's "A call comes in" webhook (POST).
    pub voice_url: String,
    /// The number's call status callback (POST).
    pub status_callback_url: String,
    /// The number's "A message comes in" webhook (POST).
    pub sms_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumberView {
    pub id: Uuid,
    /// E.164.
    pub number: String,
    pub trunk_id: Uuid,
    pub assistant_id: Option<Uuid>,
    pub business_hours: BusinessHours,
    pub after_hours: Fallback,
    pub no_worker: Fallback,
    /// Set these on the number at Twilio (`twilio_stream` trunks).
    pub webhooks: NumberWebhooks,
    /// LiveKit's inbound trunk and dispatch rule (`livekit_sip` trunks with LiveKit set).
    pub livekit_inbound_trunk_id: Option<String>,
    pub livekit_dispatch_rule_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The webhook URLs for number `id` under the deployment's public URL.
pub fn webhooks(public_url: &str, id: Uuid) -> NumberWebhooks {
    let base = public_url.trim_end_matches('/');
    NumberWebhooks {
        voice_url: format!("{base}/webhooks/twilio/voice?numberId={id}"),
        status_callback_url: format!("{base}/webhooks/twilio/inbound-status?numberId={id}"),
        sms_url: format!("{base}/webhooks/twilio/sms?numberId={id}"),
    }
}

impl NumberView {
    fn new(row: NumberRow, public_url: &str) -> Self {
        NumberView {
            webhooks: webhooks(public_url, row.id),
            id: row.id,
            number: row.number,
            trunk_id: row.trunk_id,
            assistant_id: row.assistant_id,
            business_hours: BusinessHours {
                timezone: row.timezone,
                days: row.business_days,
                open_hour: row.open_hour,
                close_hour: row.close_hour,
            },
            after_hours: Fallback {
                action: FallbackAction::parse(&row.after_hours_action),
                message: row.after_hours_message,
            },
            no_worker: Fallback {
                action: FallbackAction::parse(&row.no_worker_action),
                message: row.no_worker_message,
            },
            livekit_inbound_trunk_id: row.livekit_inbound_trunk_id,
            livekit_dispatch_rule_id: row.livekit_dispatch_rule_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The trunk and assistant must be the organization's, and the number one of the trunk's.
async fn check_references(
    state: &AppState,
    org: Uuid,
    d: &NumberDefinition,
) -> Result<trunks::TrunkRow, ApiError> {
    let mut v = Validator::new();
    let trunk = trunks::get(&state.db, org, d.trunk_id).await?;
    match &trunk {
        None => v.push("trunkId", "no such trunk"),
        Some(t) if !t.numbers.iter().any(|n| n == d.number.as_str()) => {
            v.push("number", "is not one of the trunk's numbers")
        }
        Some(_) => {}
    }
    if let Some(assistant) = d.assistant_id {
        let exists = sqlx::query_scalar!(
            r#"select exists(select 1 from assistants where id = $1 and org_id = $2) as "e!""#,
            assistant,
            org
        )
        .fetch_one(&state.db)
        .await?;
        v.check(exists, "assistantId", "no such assistant");
    }
    v.finish()?;
    trunk.ok_or(ApiError::NotFound("trunk"))
}

/// Registers a number to answer calls and texts.
#[utoipa::path(post, path = "/api/v1/numbers", tag = "numbers", request_body = NumberInput,
    responses((status = 201, body = NumberView), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create_number(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NumberInput>,
) -> Result<(StatusCode, ApiJson<NumberView>), ApiError> {
    let definition = body.parse()?;
    let trunk = check_references(&state, caller.org_id, &definition).await?;
    let id = Uuid::now_v7();
    let mut row = numbers::insert(&state.db, caller.org_id, id, &definition)
        .await
        .map_err(conflict_on_unique("the number is already registered"))?;
    if trunk.mode == "livekit_sip" {
        row = crate::inbound::livekit::provision(&state, row).await?;
    }
    Ok((
        StatusCode::CREATED,
        ApiJson(NumberView::new(row, &state.settings.server.public_url)),
    ))
}

/// Lists the organization's numbers, newest first.
#[utoipa::path(get, path = "/api/v1/numbers", tag = "numbers", params(PageQuery),
    responses((status = 200, body = Page<NumberView>), (status = 422, body = ErrorBody)))]
async fn list_numbers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<NumberView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = numbers::list(&state.db, caller.org_id, limit, offset).await?;
    let url = &state.settings.server.public_url;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(|r| NumberView::new(r, url)).collect(),
        total,
        page,
    )?))
}

#[utoipa::path(get, path = "/api/v1/numbers/{id}", tag = "numbers", params(("id" = Uuid, Path)),
    responses((status = 200, body = NumberView), (status = 404, body = ErrorBody)))]
async fn get_number(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<NumberView>, ApiError> {
    let row = numbers::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("number"))?;
    Ok(ApiJson(NumberView::new(
        row,
        &state.settings.server.public_url,
    )))
}

/// Replaces a number's settings.
#[utoipa::path(put, path = "/api/v1/numbers/{id}", tag = "numbers", params(("id" = Uuid, Path)),
    request_body = NumberInput,
    responses((status = 200, body = NumberView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_number(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NumberInput>,
) -> Result<ApiJson<NumberView>, ApiError> {
    let old = numbers::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("number"))?;
    let definition = body.parse()?;
    let trunk = check_references(&state, caller.org_id, &definition).await?;
    // LiveKit's inbound trunk is made for one number on one trunk: moving it is a delete
    // and a new registration, so no LiveKit object is left pointing at the old number.
    let moved = old.number != definition.number.as_str() || old.trunk_id != definition.trunk_id;
    if moved && (old.livekit_inbound_trunk_id.is_some() || trunk.mode == "livekit_sip") {
        return Err(ApiError::invalid(
            "number",
            "a number on a livekit_sip trunk cannot change number or trunk: delete it and register it again",
        ));
    }
    let row = numbers::update(&state.db, caller.org_id, id, &definition)
        .await
        .map_err(conflict_on_unique("the number is already registered"))?
        .ok_or(ApiError::NotFound("number"))?;
    Ok(ApiJson(NumberView::new(
        row,
        &state.settings.server.public_url,
    )))
}

/// Stops answering on a number (its calls and messages stay).
#[utoipa::path(delete, path = "/api/v1/numbers/{id}", tag = "numbers", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_number(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let row = numbers::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("number"))?;
    crate::inbound::livekit::deprovision(&state, &row).await;
    if numbers::delete(&state.db, caller.org_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("number"))
    }
}
