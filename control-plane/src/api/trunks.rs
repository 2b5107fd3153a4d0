//! `/api/v1/trunks`: CRUD for SIP trunks and Twilio accounts. Passwords and tokens are
//! write-only: stored sealed, shown only as `hasAuthPassword` / `hasAuthToken`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::crypto::SecretBox;
use crate::db::trunks::{self, SealedChange, TrunkRow, UpdateError};
use crate::domain::trunk::{SecretChange, TrunkInput, TrunkMode};
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_trunk, list_trunks))
        .routes(routes!(get_trunk, update_trunk, delete_trunk))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrunkView {
    pub id: Uuid,
    pub name: String,
    pub provider: String,
    pub mode: TrunkMode,
    pub numbers: Vec<String>,
    pub address: Option<String>,
    pub auth_username: Option<String>,
    pub has_auth_password: bool,
    pub calls_per_second: f64,
    pub account_sid: Option<String>,
    pub has_auth_token: bool,
    /// The trunk's id at LiveKit once provisioned there; read-only.
    pub livekit_trunk_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<TrunkRow> for TrunkView {
    type Error = ApiError;

    fn try_from(row: TrunkRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.id,
            name: row.name,
            provider: row.provider,
            mode: row.mode.parse().map_err(anyhow::Error::new)?,
            numbers: row.numbers,
            address: row.address,
            auth_username: row.auth_username,
            has_auth_password: row.has_auth_password,
            calls_per_second: row.calls_per_second,
            account_sid: row.account_sid,
            has_auth_token: row.has_auth_token,
            livekit_trunk_id: row.livekit_trunk_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Seals a new secret; on create there is nothing to keep, so `Keep` means none.
fn seal(secrets: &SecretBox, change: &SecretChange) -> SealedChange {
    match change {
        SecretChange::Keep => SealedChange {
            keep: true,
            sealed: None,
        },
        SecretChange::Clear => SealedChange {
            keep: false,
            sealed: None,
        },
        SecretChange::Set(plain) => SealedChange {
            keep: false,
            sealed: Some(secrets.seal(plain)),
        },
    }
}

/// Creates a trunk.
#[utoipa::path(post, path = "/api/v1/trunks", tag = "trunks", request_body = TrunkInput,
    responses((status = 201, body = TrunkView), (status = 422, body = ErrorBody)))]
async fn create_trunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TrunkInput>,
) -> Result<(StatusCode, ApiJson<TrunkView>), ApiError> {
    let spec = body.into_spec()?;
    let password = seal(&state.secrets, &spec.auth_password).sealed;
    let token = seal(&state.secrets, &spec.auth_token).sealed;
    let row = trunks::insert(&state.db, caller.org_id, &spec, password, token).await?;
    Ok((StatusCode::CREATED, ApiJson(row.try_into()?)))
}

/// Lists trunks, newest first.
#[utoipa::path(get, path = "/api/v1/trunks", tag = "trunks", params(PageQuery),
    responses((status = 200, body = Page<TrunkView>), (status = 422, body = ErrorBody)))]
async fn list_trunks(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<TrunkView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = trunks::list(&state.db, caller.org_id, limit, offset).await?;
    let data = rows
        .into_iter()
        .map(TryInto::try_into)
        .collect::<Result<_, _>>()?;
    Ok(ApiJson(Page::new(data, total, page)?))
}

/// One trunk.
#[utoipa::path(get, path = "/api/v1/trunks/{id}", tag = "trunks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TrunkView), (status = 404, body = ErrorBody)))]
async fn get_trunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<TrunkView>, ApiError> {
    let row = trunks::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("trunk"))?;
    Ok(ApiJson(row.try_into()?))
}

/// Replaces a trunk's fields; omitted secrets keep their stored values.
#[utoipa::path(put, path = "/api/v1/trunks/{id}", tag = "trunks",
    params(("id" = Uuid, Path)), request_body = TrunkInput,
    responses((status = 200, body = TrunkView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_trunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<TrunkInput>,
) -> Result<ApiJson<TrunkView>, ApiError> {
    let spec = body.into_spec()?;
    let password = seal(&state.secrets, &spec.auth_password);
    let token = seal(&state.secrets, &spec.auth_token);
    match trunks::update(&state.db, caller.org_id, id, &spec, password, token).await {
        Ok(row) => Ok(ApiJson(row.try_into()?)),
        Err(UpdateError::NotFound) => Err(ApiError::NotFound("trunk")),
        Err(UpdateError::ModeInUse) => Err(ApiError::Conflict(
            "the mode of a trunk that campaigns use cannot change".into(),
        )),
        Err(UpdateError::Db(err)) => Err(err.into()),
    }
}

/// Deletes a trunk that no campaign uses.
#[utoipa::path(delete, path = "/api/v1/trunks/{id}", tag = "trunks",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_trunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    match trunks::delete(&state.db, caller.org_id, id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::NotFound("trunk")),
        Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            Err(ApiError::Conflict("the trunk is used by a campaign".into()))
        }
        Err(err) => Err(err.into()),
    }
}
