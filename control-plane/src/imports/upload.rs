//! Getting a CSV out of an upload request, streamed and byte-limited: a `text/csv` body,
//! or the file of a `multipart/form-data` form.

use std::io;

use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use futures::TryStreamExt;
use sqlx::PgPool;
use tokio_util::io::StreamReader;
use uuid::Uuid;

use super::body::{limited, TooLarge};
use super::csv::import_csv;
use super::{ImportReport, Kind};
use crate::error::ApiError;

/// How an upload's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Multipart,
}

/// Reads the `Content-Type`; anything but JSON, CSV and multipart is a 415 naming `expected`.
pub fn format(headers: &HeaderMap, expected: &'static str) -> Result<Format, ApiError> {
    let mime: mime::Mime = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .ok_or(ApiError::UnsupportedMediaType(expected))?;
    match (mime.type_(), mime.subtype().as_str()) {
        (mime::APPLICATION, "json") => Ok(Format::Json),
        (mime::TEXT | mime::APPLICATION, "csv") => Ok(Format::Csv),
        (mime::MULTIPART, "form-data") => Ok(Format::Multipart),
        _ => Err(ApiError::UnsupportedMediaType(expected)),
    }
}

/// Refuses a body that announces more than `limit` bytes before reading any of it.
pub fn check_length(headers: &HeaderMap, limit: usize) -> Result<(), ApiError> {
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match announced {
        Some(length) if length > limit as u64 => Err(ApiError::PayloadTooLarge(Some(limit))),
        _ => Ok(()),
    }
}

/// Imports the CSV that `request` carries (`format` is [`Format::Csv`] or
/// [`Format::Multipart`]), reading at most `limit` bytes of it.
pub async fn import_csv_request<K: Kind>(
    db: &PgPool,
    kind: K,
    org_id: Uuid,
    default_country: Option<String>,
    request: Request,
    format: Format,
    limit: usize,
) -> Result<ImportReport, ApiError> {
    check_length(request.headers(), limit)?;
    match format {
        Format::Csv => {
            let body = request.into_body().into_data_stream();
            let stream = limited(body.map_err(io::Error::other), limit);
            let reader = StreamReader::new(Box::pin(stream));
            Ok(import_csv(db, kind, org_id, default_country, reader).await?)
        }
        Format::Multipart => {
            let mut form = Multipart::from_request(request, &())
                .await
                .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
            loop {
                let field = form
                    .next_field()
                    .await
                    .map_err(|err| multipart_error(err, limit))?
                    .ok_or_else(|| {
                        ApiError::invalid("file", "the form has no `file` field with the CSV")
                    })?;
                if field.name() == Some("file") || field.file_name().is_some() {
                    let stream = limited(
                        field.map_err(move |err| match multipart_error(err, limit) {
                            ApiError::PayloadTooLarge(_) => io::Error::other(TooLarge { limit }),
                            other => io::Error::other(other.to_string()),
                        }),
                        limit,
                    );
                    let reader = StreamReader::new(Box::pin(stream));
                    return Ok(import_csv(db, kind, org_id, default_country, reader).await?);
                }
            }
        }
        Format::Json => Err(ApiError::UnsupportedMediaType(
            "text/csv or multipart/form-data",
        )),
    }
}

/// Axum's own body limit shows up inside multipart errors; keep it a 413.
fn multipart_error(err: MultipartError, limit: usize) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(Some(limit))
    } else {
        ApiError::BadRequest(format!("malformed multipart body: {}", err.body_text()))
    }
}
