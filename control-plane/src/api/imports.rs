//! `/api/v1/imports`: the history of contact and Do-Not-Call uploads and the full report
//! of every row each one rejected.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::imports::{self, ImportRow};
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::imports::RowError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_imports))
        .routes(routes!(get_import))
        .routes(routes!(list_errors))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportView {
    pub id: Uuid,
    /// `contacts` or `dnc`.
    pub kind: String,
    /// The contact list written to (`contacts` imports only).
    pub list_id: Option<Uuid>,
    /// `running`, `completed` or `failed`.
    pub status: String,
    pub default_country: Option<String>,
    pub total_rows: i64,
    pub accepted: i64,
    pub rejected: i64,
    /// Why a failed import stopped; the rows counted before it stay imported.
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ImportRow> for ImportView {
    fn from(row: ImportRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            list_id: row.list_id,
            status: row.status,
            default_country: row.default_country,
            total_rows: row.total_rows,
            accepted: row.accepted,
            rejected: row.rejected,
            failure: row.failure,
            created_at: row.created_at,
            finished_at: row.finished_at,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ImportFilter {
    /// Only imports into this contact list.
    pub list_id: Option<Uuid>,
}

/// Lists imports, newest first.
#[utoipa::path(get, path = "/api/v1/imports", tag = "imports", params(PageQuery, ImportFilter),
    responses((status = 200, body = Page<ImportView>), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_imports(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(filter): ApiQuery<ImportFilter>,
) -> Result<ApiJson<Page<ImportView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) =
        imports::list(&state.db, caller.org_id, filter.list_id, limit, offset).await?;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(Into::into).collect(),
        total,
        page,
    )?))
}

/// One import with its counts; while it runs, the counts grow batch by batch.
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ImportView), (status = 404, body = ErrorBody)))]
async fn get_import(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<ImportView>, ApiError> {
    let row = imports::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("import"))?;
    Ok(ApiJson(row.into()))
}

/// The rejected rows of an import, by row number: the first 10,000 are stored
/// (`MAX_STORED_ERRORS`); the import's `rejected` counts every one.
#[utoipa::path(get, path = "/api/v1/imports/{id}/errors", tag = "imports",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<RowError>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_errors(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<RowError>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = imports::errors(&state.db, caller.org_id, id, limit, offset)
        .await?
        .ok_or(ApiError::NotFound("import"))?;
    Ok(ApiJson(Page::new(rows, total, page)?))
}
