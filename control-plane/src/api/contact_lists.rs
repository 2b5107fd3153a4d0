//! `/api/v1/contact-lists`: lists, their contacts, and uploads into them (JSON, CSV or a
//! multipart form, one route). Uploads live in [`upload_router`] for the large body limit
//! and the long timeout; everything else has the ordinary ones.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::compliance::consent::{Consent, ConsentKind};
use crate::db::contacts::{self, ContactListRow, ContactRow, ContactSearch};
use crate::domain::contact::{parse_default_country, ContactInput, ContactListInput};
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::imports::upload::{self, Format};
use crate::imports::{self, body, Contacts, ImportReport};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_list, list_lists))
        .routes(routes!(get_list, update_list, delete_list))
        .routes(routes!(list_contacts))
        .routes(routes!(delete_contact))
}

pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_contacts))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactListView {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub contact_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ContactListRow> for ContactListView {
    fn from(row: ContactListRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            description: row.description,
            contact_count: row.contact_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactView {
    pub id: Uuid,
    /// E.164.
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub timezone: Option<String>,
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// The consent the operator declared; absent when none was.
    pub consent: Option<Consent>,
    pub created_at: DateTime<Utc>,
}

impl From<ContactRow> for ContactView {
    fn from(row: ContactRow) -> Self {
        Self {
            id: row.id,
            phone: row.phone,
            name: row.name,
            email: row.email,
            timezone: row.timezone,
            variables: row.variables.0,
            consent: row
                .consent_kind
                .as_deref()
                .and_then(ConsentKind::parse)
                .map(|kind| Consent {
                    kind,
                    source: row.consent_source,
                    at: row.consent_at,
                }),
            created_at: row.created_at,
        }
    }
}

/// The JSON form of a contact upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactsUpload {
    pub contacts: Vec<ContactInput>,
    /// Overrides the `defaultCountry` query parameter.
    pub default_country: Option<String>,
}

/// The multipart form of a CSV upload.
#[derive(Debug, ToSchema)]
// Never built: it only describes the form for the OpenAPI document, the handler streams
// the field itself.
#[allow(dead_code)]
pub struct CsvFileForm {
    /// The CSV file. A header row is required.
    #[schema(value_type = String, format = Binary, content_media_type = "text/csv")]
    pub file: Vec<u8>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// ISO 3166-1 alpha-2 country for numbers written without `+` (e.g. `US`).
    pub default_country: Option<String>,
}

/// Creates an empty contact list.
#[utoipa::path(post, path = "/api/v1/contact-lists", tag = "contacts", request_body = ContactListInput,
    responses((status = 201, body = ContactListView), (status = 422, body = ErrorBody)))]
async fn create_list(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ContactListInput>,
) -> Result<(StatusCode, ApiJson<ContactListView>), ApiError> {
    let fields = body.parse()?;
    let row = contacts::insert_list(&state.db, caller.org_id, &fields).await?;
    Ok((StatusCode::CREATED, ApiJson(row.into())))
}

/// Lists contact lists, newest first.
#[utoipa::path(get, path = "/api/v1/contact-lists", tag = "contacts", params(PageQuery),
    responses((status = 200, body = Page<ContactListView>), (status = 422, body = ErrorBody)))]
async fn list_lists(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<ContactListView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = contacts::lists(&state.db, caller.org_id, limit, offset).await?;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(Into::into).collect(),
        total,
        page,
    )?))
}

/// One contact list with its number of contacts.
#[utoipa::path(get, path = "/api/v1/contact-lists/{id}", tag = "contacts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ContactListView), (status = 404, body = ErrorBody)))]
async fn get_list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<ContactListView>, ApiError> {
    let row = contacts::get_list(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("contact list"))?;
    Ok(ApiJson(row.into()))
}

/// Renames a contact list or changes its description.
#[utoipa::path(put, path = "/api/v1/contact-lists/{id}", tag = "contacts",
    params(("id" = Uuid, Path)), request_body = ContactListInput,
    responses((status = 200, body = ContactListView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ContactListInput>,
) -> Result<ApiJson<ContactListView>, ApiError> {
    let fields = body.parse()?;
    let row = contacts::update_list(&state.db, caller.org_id, id, &fields)
        .await?
        .ok_or(ApiError::NotFound("contact list"))?;
    Ok(ApiJson(row.into()))
}

/// Deletes a contact list, its contacts and its imports, unless a campaign uses it.
#[utoipa::path(delete, path = "/api/v1/contact-lists/{id}", tag = "contacts",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    match contacts::delete_list(&state.db, caller.org_id, id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::NotFound("contact list")),
        Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => Err(ApiError::Conflict(
            "the contact list is used by a campaign".into(),
        )),
        Err(err) => Err(err.into()),
    }
}

/// `?q=&page=&perPage=` for a list's contacts. Page fields are repeated rather than
/// flattened: flattening breaks number parsing in query strings.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ContactsQuery {
    /// Contacts whose name or email contains this text (any case), or whose phone number
    /// contains its digits.
    pub q: Option<String>,
    /// Page number, from 1 (default 1).
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    pub per_page: Option<i64>,
}

/// A page of a list's contacts, in the order they were added, optionally searched.
#[utoipa::path(get, path = "/api/v1/contact-lists/{id}/contacts", tag = "contacts",
    params(("id" = Uuid, Path), ContactsQuery),
    responses((status = 200, body = Page<ContactView>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_contacts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<ContactsQuery>,
) -> Result<ApiJson<Page<ContactView>>, ApiError> {
    let page = PageQuery {
        page: query.page,
        per_page: query.per_page,
    };
    let (limit, offset) = page.limit_offset()?;
    if !contacts::list_exists(&state.db, caller.org_id, id).await? {
        return Err(ApiError::NotFound("contact list"));
    }
    let search = query.q.as_deref().and_then(ContactSearch::new);
    let (rows, total) =
        contacts::contacts(&state.db, caller.org_id, id, search.as_ref(), limit, offset).await?;
    Ok(ApiJson(Page::new(
        rows.into_iter().map(Into::into).collect(),
        total,
        page,
    )?))
}

/// Removes one contact from a list.
#[utoipa::path(delete, path = "/api/v1/contact-lists/{id}/contacts/{contactId}", tag = "contacts",
    params(("id" = Uuid, Path), ("contactId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_contact(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, contact_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    if contacts::delete_contact(&state.db, caller.org_id, id, contact_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("contact"))
    }
}

/// Adds contacts: a JSON array, a CSV body, or a CSV file in a multipart form.
///
/// CSV needs a header row. `phone` (or `phone_number`, `number`), `name`, `email` and
/// `timezone` are matched case-insensitively; every other column becomes a variable.
/// Rows with a missing or invalid phone, an invalid email, an unknown time zone, the wrong
/// number of columns, or a phone already in the file or the list are rejected and
/// reported (the header is row 1); the rest are added. CSV is streamed, so files of
/// millions of rows are fine up to the upload limit.
#[utoipa::path(post, path = "/api/v1/contact-lists/{id}/contacts", tag = "contacts",
    params(("id" = Uuid, Path), UploadQuery),
    request_body(description = "Contacts as JSON, a CSV body, or a multipart form with a `file`",
        content((ContactsUpload = "application/json"), (String = "text/csv"),
            (CsvFileForm = "multipart/form-data"))),
    responses((status = 201, body = ImportReport, description = "Accepted and rejected rows"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn upload_contacts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, ApiJson<ImportReport>), ApiError> {
    if !contacts::list_exists(&state.db, caller.org_id, id).await? {
        return Err(ApiError::NotFound("contact list"));
    }
    let format = upload::format(
        request.headers(),
        "application/json, text/csv or multipart/form-data",
    )?;
    let report = if format == Format::Json {
        let limit = state.settings.server.body_limit_bytes;
        upload::check_length(request.headers(), limit)?;
        let bytes = body::read_limited(request.into_body(), limit).await?;
        let upload: ContactsUpload = parse_json(&bytes)?;
        let country = upload
            .default_country
            .as_deref()
            .or(query.default_country.as_deref());
        let country = parse_default_country(country)?;
        if upload.contacts.is_empty() {
            return Err(ApiError::invalid("contacts", "must not be empty"));
        }
        imports::import_json_contacts(&state.db, caller.org_id, id, country, upload.contacts)
            .await?
    } else {
        let country = parse_default_country(query.default_country.as_deref())?;
        let limit = state.settings.server.upload_limit_bytes;
        let kind = Contacts::new(id);
        upload::import_csv_request(
            &state.db,
            kind,
            caller.org_id,
            country,
            request,
            format,
            limit,
        )
        .await?
    };
    Ok((StatusCode::CREATED, ApiJson(report)))
}

/// `serde_json` errors sorted like [`ApiJson`]'s: broken syntax 400, wrong shape 422.
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => ApiError::invalid("body", err.to_string()),
        _ => ApiError::MalformedJson(err.to_string()),
    })
}
