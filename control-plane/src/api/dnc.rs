//! `/api/v1/dnc`: the organization's Do-Not-Call list. Numbers are stored in E.164, so
//! every way in (add, filter, delete, CSV import) normalizes before it looks.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::contact_lists::{CsvFileForm, UploadQuery};
use crate::auth::Caller;
use crate::db::dnc::{self, DncRow};
use crate::domain::contact::parse_default_country;
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::imports::kinds::MAX_DNC_REASON;
use crate::imports::upload;
use crate::imports::{Dnc, ImportReport};
use crate::state::AppState;
use shared::PhoneNumber;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_number, list_numbers))
        .routes(routes!(delete_number))
}

pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_numbers))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DncView {
    /// E.164.
    pub phone: String,
    pub reason: Option<String>,
    /// How the number got here: `api`, `import` or `call` (the callee opted out).
    pub source: Option<String>,
    /// The call in which the callee asked not to be called again.
    pub source_call_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<DncRow> for DncView {
    fn from(row: DncRow) -> Self {
        Self {
            phone: row.phone,
            reason: row.reason,
            source: row.source,
            source_call_id: row.source_call_id,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DncInput {
    /// E.164, or national with `defaultCountry`.
    pub phone: String,
    pub reason: Option<String>,
    /// ISO 3166-1 alpha-2 country for a number written without `+`; overrides the
    /// `defaultCountry` query parameter.
    pub default_country: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DncFilter {
    /// Only this number (normalized first; encode `+` as `%2B`).
    pub phone: Option<String>,
    /// Country for a `phone` written without `+`.
    pub default_country: Option<String>,
}

/// Adds a number. Adding a number that is already listed answers 200 with the entry.
/// `defaultCountry` may come in the body or, as on the contacts routes, in the query.
#[utoipa::path(post, path = "/api/v1/dnc", tag = "dnc", request_body = DncInput,
    params(UploadQuery),
    responses((status = 201, body = DncView, description = "Added"),
        (status = 200, body = DncView, description = "Already listed; unchanged"),
        (status = 422, body = ErrorBody)))]
async fn add_number(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UploadQuery>,
    ApiJson(body): ApiJson<DncInput>,
) -> Result<(StatusCode, ApiJson<DncView>), ApiError> {
    let country = body
        .default_country
        .as_deref()
        .or(query.default_country.as_deref());
    let country = parse_default_country(country)?;
    let phone = parse_phone(&body.phone, country.as_deref())?;
    let reason = body
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_DNC_REASON) {
        return Err(ApiError::invalid(
            "reason",
            format!("must be at most {MAX_DNC_REASON} characters"),
        ));
    }
    let (row, added) = dnc::add(&state.db, caller.org_id, &phone, reason).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(row.into())))
}

/// Lists the numbers, newest first.
#[utoipa::path(get, path = "/api/v1/dnc", tag = "dnc", params(PageQuery, DncFilter),
    responses((status = 200, body = Page<DncView>), (status = 422, body = ErrorBody)))]
async fn list_numbers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(filter): ApiQuery<DncFilter>,
) -> Result<ApiJson<Page<DncView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let phone = match filter.phone.as_deref() {
        Some(raw) => {
            let country = parse_default_country(filter.default_country.as_deref())?;
            Some(parse_phone(&plus_from_query(raw), country.as_deref())?)
        }
        None => None,
    };
    let (rows, total) = dnc::list(&state.db, caller.org_id, phone.as_ref(), limit, offset).await?;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(Into::into).collect(),
        total,
        page,
    )?))
}

/// Removes a number (`%2B14155552671`, normalized before the lookup).
#[utoipa::path(delete, path = "/api/v1/dnc/{phone}", tag = "dnc",
    params(("phone" = String, Path, description = "E.164 with `+` encoded as `%2B`"), UploadQuery),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_number(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(query): ApiQuery<UploadQuery>,
) -> Result<StatusCode, ApiError> {
    let country = parse_default_country(query.default_country.as_deref())?;
    let phone = parse_phone(&raw, country.as_deref())?;
    if dnc::delete(&state.db, caller.org_id, &phone).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("Do-Not-Call entry"))
    }
}

/// Adds numbers from a CSV (body or multipart `file`) with a `phone` column and an
/// optional `reason` column. Invalid numbers and numbers already in the file or on the
/// list are reported as rejected rows (the header is row 1).
#[utoipa::path(post, path = "/api/v1/dnc/import", tag = "dnc", params(UploadQuery),
    request_body(description = "A CSV body, or a multipart form with a `file`",
        content((String = "text/csv"), (CsvFileForm = "multipart/form-data"))),
    responses((status = 201, body = ImportReport, description = "Accepted and rejected rows"),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_numbers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, ApiJson<ImportReport>), ApiError> {
    let expected = "text/csv or multipart/form-data";
    let format = match upload::format(request.headers(), expected)? {
        upload::Format::Json => return Err(ApiError::UnsupportedMediaType(expected)),
        csv => csv,
    };
    let country = parse_default_country(query.default_country.as_deref())?;
    let limit = state.settings.server.upload_limit_bytes;
    let report = upload::import_csv_request(
        &state.db,
        Dnc,
        caller.org_id,
        country,
        request,
        format,
        limit,
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(report)))
}

/// The number in E.164; a national number without a country gets the same hint the CSV
/// importer gives.
fn parse_phone(raw: &str, country: Option<&str>) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(raw, country).map_err(|err| {
        let hint = if country.is_none() && !raw.trim_start().starts_with('+') {
            " (no country code: start with + or pass defaultCountry)"
        } else {
            ""
        };
        ApiError::invalid("phone", format!("{err}{hint}"))
    })
}

/// A `+` in a query string arrives as a space; put it back so `?phone=+1415...` works.
fn plus_from_query(raw: &str) -> String {
    match raw.strip_prefix(' ') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("+{rest}"),
        _ => raw.to_string(),
    }
}
