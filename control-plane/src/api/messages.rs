//! `/api/v1/messages`: texts the organization sent and received, and sending one. A
//! contact's texts are listed with it (`/api/v1/contacts/{id}/messages`), beside its calls
//! (`/api/v1/contacts/{id}/calls`).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::PhoneNumber;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::messages::{self, MessageRow};
use crate::error::{ApiError, ErrorBody, Validator};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::sms::send::{send, Outgoing};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message, list_messages))
        .routes(routes!(get_message))
        .routes(routes!(contact_messages))
        .routes(routes!(contact_calls))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: Uuid,
    /// `outbound` or `inbound`.
    pub direction: String,
    pub from: String,
    pub to: String,
    pub body: String,
    /// Twilio's status: accepted, queued, sent, delivered, undelivered, failed, received...
    pub status: String,
    pub contact_id: Option<Uuid>,
    pub call_id: Option<Uuid>,
    pub number_id: Option<Uuid>,
    pub provider_message_id: Option<String>,
    pub error_code: Option<i32>,
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<MessageRow> for MessageView {
    fn from(r: MessageRow) -> Self {
        MessageView {
            id: r.id,
            direction: r.direction,
            from: r.from_phone,
            to: r.to_phone,
            body: r.body,
            status: r.status,
            contact_id: r.contact_id,
            call_id: r.call_id,
            number_id: r.phone_number_id,
            provider_message_id: r.provider_message_id,
            error_code: r.error_code,
            error_message: r.error_message,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageInput {
    /// E.164.
    pub to: String,
    /// 1 to 1,600 characters.
    pub body: String,
    /// One of the organization's numbers (E.164); default: its first.
    pub from: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct MessageFilter {
    /// Only this contact's texts.
    pub contact_id: Option<Uuid>,
}

/// Sends a text. 201 with the message as stored; a text Twilio refused is stored as
/// `failed` with Twilio's `errorCode` (21610: the recipient opted out at Twilio).
#[utoipa::path(post, path = "/api/v1/messages", tag = "messages", request_body = MessageInput,
    responses((status = 201, body = MessageView), (status = 422, body = ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<MessageInput>,
) -> Result<(StatusCode, ApiJson<MessageView>), ApiError> {
    let mut v = Validator::new();
    let to = PhoneNumber::parse(body.to.trim(), None);
    if let Err(err) = &to {
        v.push("to", err.to_string());
    }
    let from = match body
        .from
        .as_deref()
        .map(|f| PhoneNumber::parse(f.trim(), None))
    {
        Some(Ok(from)) => Some(from.to_string()),
        Some(Err(err)) => {
            v.push("from", err.to_string());
            None
        }
        None => None,
    };
    v.finish()?;
    let to = to.map_err(|err| ApiError::invalid("to", err.to_string()))?;
    let sent = send(
        &state,
        Outgoing {
            org: caller.org_id,
            to: to.as_str(),
            body: &body.body,
            from: from.as_deref(),
            contact_id: None,
            call_id: None,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(sent.into())))
}

/// Lists the organization's texts, newest first.
#[utoipa::path(get, path = "/api/v1/messages", tag = "messages", params(PageQuery, MessageFilter),
    responses((status = 200, body = Page<MessageView>), (status = 422, body = ErrorBody)))]
async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(filter): ApiQuery<MessageFilter>,
) -> Result<ApiJson<Page<MessageView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) =
        messages::list(&state.db, caller.org_id, filter.contact_id, limit, offset).await?;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(Into::into).collect(),
        total,
        page,
    )?))
}

#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages", params(("id" = Uuid, Path)),
    responses((status = 200, body = MessageView), (status = 404, body = ErrorBody)))]
async fn get_message(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<MessageView>, ApiError> {
    let row = messages::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    Ok(ApiJson(row.into()))
}

async fn contact_exists(state: &AppState, org: Uuid, id: Uuid) -> Result<(), ApiError> {
    let found = sqlx::query_scalar!(
        r#"select exists(select 1 from contacts where id = $1 and org_id = $2) as "e!""#,
        id,
        org
    )
    .fetch_one(&state.db)
    .await?;
    found.then_some(()).ok_or(ApiError::NotFound("contact"))
}

/// A contact's texts, both ways, newest first.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/messages", tag = "messages",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<MessageView>), (status = 404, body = ErrorBody)))]
async fn contact_messages(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<MessageView>>, ApiError> {
    contact_exists(&state, caller.org_id, id).await?;
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = messages::list(&state.db, caller.org_id, Some(id), limit, offset).await?;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(Into::into).collect(),
        total,
        page,
    )?))
}

/// A contact's call in its history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactCall {
    pub id: Uuid,
    /// `outbound` or `inbound`.
    pub direction: String,
    pub status: String,
    pub outcome: Option<String>,
    pub end_reason: Option<String>,
    pub campaign_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub duration_sec: Option<i32>,
    pub variables: Value,
}

/// A contact's calls, both directions, newest first.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/calls", tag = "messages",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<ContactCall>), (status = 404, body = ErrorBody)))]
async fn contact_calls(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<ContactCall>>, ApiError> {
    contact_exists(&state, caller.org_id, id).await?;
    let (limit, offset) = page.limit_offset()?;
    let rows = sqlx::query_as!(
        ContactCall,
        "select id, direction, status, outcome, end_reason, campaign_id, created_at,
                duration_sec, variables
         from calls where org_id = $1 and contact_id = $2
         order by created_at desc, id desc limit $3 offset $4",
        caller.org_id,
        id,
        limit,
        offset
    )
    .fetch_all(&state.db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from calls where org_id = $1 and contact_id = $2"#,
        caller.org_id,
        id
    )
    .fetch_one(&state.db)
    .await?;
    Ok(ApiJson(Page::new(rows, total, page)?))
}
