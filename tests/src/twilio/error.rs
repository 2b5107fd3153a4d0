//! Errors in Twilio's REST format: `{"code", "message", "more_info", "status"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A Twilio API error as the REST API returns it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct TwilioError {
    /// HTTP status.
    pub status: u16,
    /// Twilio's error code (20003, 21211, ...).
    pub code: u32,
    /// Human-readable text.
    pub message: String,
}

impl TwilioError {
    /// An error with an explicit status.
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        TwilioError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401 / 20003: the Basic credentials are wrong or missing.
    pub fn authenticate() -> Self {
        Self::new(401, 20003, "Authenticate")
    }

    /// 404 / 20404: no such resource (or, for calls, no longer live).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            404,
            20404,
            format!("The requested resource {what} was not found"),
        )
    }

    /// 400 with a code, for invalid parameters.
    pub fn bad_request(code: u32, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// The JSON body Twilio sends.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status,
        })
    }
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body())).into_response()
    }
}
