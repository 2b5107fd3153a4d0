//! `/api/v1/assistants`: CRUD; every update is a new version.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::compliance::disclosure;
use crate::db::assistants::{self, AssistantRow, VersionRow};
use crate::db::compliance;
use crate::domain::assistant::{AssistantDefinition, AssistantInput};
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_assistant, list_assistants))
        .routes(routes!(get_assistant, update_assistant, delete_assistant))
        .routes(routes!(list_versions))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssistantView {
    pub id: Uuid,
    pub name: String,
    pub version: i32,
    #[serde(flatten)]
    pub definition: AssistantDefinition,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AssistantRow> for AssistantView {
    fn from(row: AssistantRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            version: row.current_version,
            definition: row.definition.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssistantVersionView {
    pub version: i32,
    pub name: String,
    #[serde(flatten)]
    pub definition: AssistantDefinition,
    pub created_at: DateTime<Utc>,
}

impl From<VersionRow> for AssistantVersionView {
    fn from(row: VersionRow) -> Self {
        Self {
            version: row.version,
            name: row.name,
            definition: row.definition.0,
            created_at: row.created_at,
        }
    }
}

/// Creates an assistant (version 1).
#[utoipa::path(post, path = "/api/v1/assistants", tag = "assistants", request_body = AssistantInput,
    responses((status = 201, body = AssistantView), (status = 422, body = ErrorBody)))]
async fn create_assistant(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AssistantInput>,
) -> Result<(StatusCode, ApiJson<AssistantView>), ApiError> {
    let (name, definition) = body.into_definition()?;
    check_disclosure(&state, caller.org_id, &definition).await?;
    let row = assistants::insert(&state.db, caller.org_id, &name, &definition).await?;
    Ok((StatusCode::CREATED, ApiJson(row.into())))
}

/// Lists assistants, newest first.
#[utoipa::path(get, path = "/api/v1/assistants", tag = "assistants", params(PageQuery),
    responses((status = 200, body = Page<AssistantView>)))]
async fn list_assistants(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<AssistantView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = assistants::list(&state.db, caller.org_id, limit, offset).await?;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(Into::into).collect(),
        total,
        page,
    )?))
}

/// One assistant at its current version.
#[utoipa::path(get, path = "/api/v1/assistants/{id}", tag = "assistants",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AssistantView), (status = 404, body = ErrorBody)))]
async fn get_assistant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<AssistantView>, ApiError> {
    let row = assistants::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("assistant"))?;
    Ok(ApiJson(row.into()))
}

/// Replaces the definition, making a new version.
#[utoipa::path(put, path = "/api/v1/assistants/{id}", tag = "assistants",
    params(("id" = Uuid, Path)), request_body = AssistantInput,
    responses((status = 200, body = AssistantView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_assistant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AssistantInput>,
) -> Result<ApiJson<AssistantView>, ApiError> {
    let (name, definition) = body.into_definition()?;
    check_disclosure(&state, caller.org_id, &definition).await?;
    let row = assistants::update(&state.db, caller.org_id, id, &name, &definition)
        .await?
        .ok_or(ApiError::NotFound("assistant"))?;
    Ok(ApiJson(row.into()))
}

/// Refuses a first message that does not say who is calling and that the call is
/// automated (`compliance::disclosure`), unless the organization allows it.
async fn check_disclosure(
    state: &AppState,
    org_id: Uuid,
    definition: &AssistantDefinition,
) -> Result<(), ApiError> {
    let Some(problem) = disclosure::first_message_problem(definition.first_message.as_deref())
    else {
        return Ok(());
    };
    if compliance::allows_undisclosed_assistants(&state.db, org_id).await? {
        return Ok(());
    }
    Err(ApiError::invalid("firstMessage", problem))
}

/// Deletes an assistant that no campaign uses.
#[utoipa::path(delete, path = "/api/v1/assistants/{id}", tag = "assistants",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_assistant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    match assistants::delete(&state.db, caller.org_id, id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::NotFound("assistant")),
        Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => Err(ApiError::Conflict(
            "the assistant is used by a campaign".into(),
        )),
        Err(err) => Err(err.into()),
    }
}

/// Every version of an assistant, newest first.
#[utoipa::path(get, path = "/api/v1/assistants/{id}/versions", tag = "assistants",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<AssistantVersionView>), (status = 404, body = ErrorBody)))]
async fn list_versions(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<AssistantVersionView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = assistants::versions(&state.db, caller.org_id, id, limit, offset).await?;
    if total == 0 {
        return Err(ApiError::NotFound("assistant"));
    }
    Ok(ApiJson(Page::new(
        rows.into_iter().map(Into::into).collect(),
        total,
        page,
    )?))
}
