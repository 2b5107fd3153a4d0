//! Axum's extractors wrapped so that every rejection becomes our JSON error with the
//! right status: 400 malformed JSON, 413 too large, 415 wrong content type, 422 a
//! missing or mistyped field, 400 a bad path or query parameter.
//!
//! JSON bodies are also where text is checked once for every handler: a NUL character
//! (`\u0000`) is valid JSON but PostgreSQL text cannot hold it, so it would otherwise
//! reach the database and come back as a 500.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, FieldError};

/// `Json<T>` whose failures are [`ApiError`]s, and whose text holds no NUL character.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        // As a `Value` first: content type, size and syntax fail as before, and every
        // string (keys too: maps such as `variables` are stored as jsonb) can be checked
        // with the path that names it.
        let limit = request.extensions().get::<BodyLimit>().map(|l| l.0);
        let axum::Json(value) = axum::Json::<Value>::from_request(request, state)
            .await
            .map_err(|rejection| match ApiError::from(rejection) {
                ApiError::PayloadTooLarge(None) => ApiError::PayloadTooLarge(limit),
                other => other,
            })?;
        let mut bad = Vec::new();
        check_text(&value, &mut String::new(), &mut bad);
        if !bad.is_empty() {
            return Err(ApiError::Validation(bad));
        }
        serde_path_to_error::deserialize(value)
            .map(ApiJson)
            .map_err(|err| ApiError::invalid("body", err.to_string()))
    }
}

/// The ordinary body limit, as a request extension: axum's own limit does not say what it
/// was, and a 413 should.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The longest string any JSON field may hold, in characters, whatever the field: the
/// fields that take long text have their own, smaller limits (a system prompt 20,000).
pub const MAX_JSON_TEXT: usize = 32_768;

/// Records a failure for each string in `value` (or key) that holds a NUL character or
/// is longer than [`MAX_JSON_TEXT`], named by its path (`contacts[2].name`).
fn check_text(value: &Value, path: &mut String, out: &mut Vec<FieldError>) {
    const MESSAGE: &str = "must not contain a NUL character (\\u0000)";
    match value {
        Value::String(text) if text.contains('\0') => {
            out.push(FieldError::new(path_or_body(path), MESSAGE))
        }
        Value::String(text) if text.chars().count() > MAX_JSON_TEXT => out.push(FieldError::new(
            path_or_body(path),
            format!("must be at most {MAX_JSON_TEXT} characters"),
        )),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                check_text(item, path, out);
                path.truncate(len);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                if key.contains('\0') {
                    out.push(FieldError::new(path.replace('\0', "\\u0000"), MESSAGE));
                } else {
                    check_text(item, path, out);
                }
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn path_or_body(path: &str) -> String {
    if path.is_empty() {
        "body".to_string()
    } else {
        path.to_string()
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `Path<T>` whose failures are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `Query<T>` whose failures are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("application/json")
            }
            JsonRejection::JsonSyntaxError(err) => ApiError::MalformedJson(err.body_text()),
            JsonRejection::JsonDataError(err) => {
                ApiError::invalid("body", clean_serde_message(&err.body_text()))
            }
            JsonRejection::BytesRejection(err) => {
                if err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(None)
                } else {
                    ApiError::BadRequest(err.body_text())
                }
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(format!("invalid path parameter: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(format!("invalid query: {}", rejection.body_text()))
    }
}

/// Serde's data errors start with axum's own prefix; keep the part that names the field.
fn clean_serde_message(text: &str) -> String {
    text.strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nul_fields(value: Value) -> Vec<String> {
        let mut out = Vec::new();
        check_text(&value, &mut String::new(), &mut out);
        out.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn a_nul_anywhere_is_named_by_its_path() {
        let body = json!({
            "name": "nul\u{0}",
            "ok": "fine",
            "contacts": [{"phone": "+1"}, {"name": "a\u{0}b"}],
            "variables": {"plan\u{0}": "x"}
        });
        let mut fields = nul_fields(body);
        fields.sort();
        assert_eq!(
            fields,
            ["contacts[1].name", "name", "variables.plan\\u0000"]
        );
        assert_eq!(nul_fields(json!("\u{0}")), ["body"]);
        assert!(nul_fields(json!({"name": "plain", "n": [1, 2]})).is_empty());
    }
}
