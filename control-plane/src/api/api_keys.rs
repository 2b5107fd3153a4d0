//! `/api/v1/api-keys`: create (the key is shown once), list, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{new_api_key, Caller};
use crate::db::api_keys::{self, ApiKeyRow};
use crate::error::{ApiError, ErrorBody, Validator};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiKey {
    pub name: String,
}

/// The one time the key is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub id: Uuid,
    pub name: String,
    pub key: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKeyView {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// Creates an API key. The answer carries the key; it is never shown again. Only a
/// signed-in user may: a leaked key must not be able to mint itself successors that
/// outlive its revocation.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey),
        (status = 403, body = ErrorBody, description = "Called with an API key, not a user session"),
        (status = 422, body = ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> Result<(StatusCode, ApiJson<CreatedApiKey>), ApiError> {
    if caller.user_id.is_none() {
        return Err(ApiError::Forbidden(
            "API keys are created by a signed-in user, not with an API key".into(),
        ));
    }
    let name = body.name.trim();
    let mut v = Validator::new();
    v.check(!name.is_empty(), "name", "must not be empty")
        .check(name.len() <= 200, "name", "must be at most 200 characters");
    v.finish()?;
    let secret = new_api_key();
    let row = api_keys::insert(
        &state.db,
        caller.org_id,
        caller.user_id,
        name,
        &secret.prefix,
        &secret.hash,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedApiKey {
            id: row.id,
            name: row.name,
            key: secret.key,
        }),
    ))
}

/// Lists the organization's API keys (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", params(PageQuery),
    responses((status = 200, body = Page<ApiKeyView>)))]
async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<ApiKeyView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = api_keys::list(&state.db, caller.org_id, limit, offset).await?;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(ApiKeyView::from).collect(),
        total,
        page,
    )?))
}

/// Revokes an API key: requests made with it are refused from now on.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = Uuid, Path, description = "API key id")),
    responses((status = 200, body = ApiKeyView), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<ApiKeyView>, ApiError> {
    let row = api_keys::revoke(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("API key"))?;
    Ok(ApiJson(row.into()))
}
