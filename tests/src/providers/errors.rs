//! Error responses in each service's own JSON shape, so the product's error handling
//! meets what it will meet in production:
//!
//! - OpenAI: `{"error": {"message", "type", "param", "code"}}`
//! - Deepgram: `{"err_code", "err_msg", "request_id"}`
//! - ElevenLabs: `{"detail": {"status", "message"}}`

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// Whose error shape to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    OpenAi,
    Deepgram,
    ElevenLabs,
}

/// An error answer from one of the emulated APIs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub(crate) struct ApiError {
    pub api: Api,
    pub status: u16,
    /// The service's machine-readable code (`invalid_api_key`, `INVALID_AUTH`...).
    pub code: String,
    pub message: String,
    /// OpenAI's `param`: the offending field.
    pub param: Option<String>,
}

impl ApiError {
    pub(crate) fn new(
        api: Api,
        status: u16,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            api,
            status,
            code: code.into(),
            message: message.into(),
            param: None,
        }
    }

    /// Names the request field at fault (shown by OpenAI's shape only).
    pub(crate) fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }

    /// Replaces the human-readable text.
    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// 401: the key is missing or not accepted.
    pub(crate) fn unauthorized(api: Api) -> Self {
        match api {
            Api::OpenAi => Self::new(
                api,
                401,
                "invalid_api_key",
                "Incorrect API key provided. You can find your API key at \
                 https://platform.openai.com/account/api-keys.",
            ),
            Api::Deepgram => Self::new(api, 401, "INVALID_AUTH", "Invalid credentials."),
            Api::ElevenLabs => Self::new(api, 401, "invalid_api_key", "Invalid API key"),
        }
    }

    /// 400 for a request the service (or this emulator) cannot serve.
    pub(crate) fn bad_request(api: Api, message: impl Into<String>) -> Self {
        let code = match api {
            Api::OpenAi => "invalid_value",
            Api::Deepgram => "BAD_REQUEST",
            Api::ElevenLabs => "invalid_request",
        };
        Self::new(api, 400, code, message)
    }

    /// The answer to an injected `status` fault: what the service says for that status.
    pub(crate) fn injected(api: Api, status: u16) -> Self {
        let (openai, deepgram, elevenlabs, message) = match status {
            401 => return Self::unauthorized(api),
            429 => (
                "rate_limit_exceeded",
                "TOO_MANY_REQUESTS",
                "too_many_concurrent_requests",
                "Rate limit reached. Please try again later.",
            ),
            503 => (
                "service_unavailable",
                "SERVICE_UNAVAILABLE",
                "system_busy",
                "The service is temporarily overloaded. Please try again later.",
            ),
            s if s >= 500 => (
                "server_error",
                "INTERNAL_SERVER_ERROR",
                "internal_server_error",
                "The server had an error while processing your request.",
            ),
            _ => (
                "invalid_request",
                "BAD_REQUEST",
                "invalid_request",
                "The request was refused.",
            ),
        };
        let code = match api {
            Api::OpenAi => openai,
            Api::Deepgram => deepgram,
            Api::ElevenLabs => elevenlabs,
        };
        Self::new(api, status, code, message)
    }

    /// The JSON body the service sends.
    pub(crate) fn body(&self) -> Value {
        match self.api {
            Api::OpenAi => {
                let kind = match self.status {
                    429 => "requests",
                    s if s >= 500 => "server_error",
                    _ => "invalid_request_error",
                };
                // OpenAI sends `code: null` for server errors.
                let code = (self.status < 500).then_some(self.code.as_str());
                json!({"error": {
                    "message": self.message,
                    "type": kind,
                    "param": self.param,
                    "code": code,
                }})
            }
            Api::Deepgram => json!({
                "err_code": self.code,
                "err_msg": self.message,
                "request_id": super::request_id(),
            }),
            // Request validation is FastAPI's: 422 with a list of field errors.
            Api::ElevenLabs if self.status == 422 => json!({"detail": [{
                "type": self.code,
                "loc": ["body", self.param.as_deref().unwrap_or("body")],
                "msg": self.message,
            }]}),
            Api::ElevenLabs => json!({"detail": {"status": self.code, "message": self.message}}),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_has_its_own_shape() {
        let openai = ApiError::bad_request(Api::OpenAi, "nope").param("response_format");
        assert_eq!(openai.body()["error"]["param"], "response_format");
        assert_eq!(openai.body()["error"]["type"], "invalid_request_error");
        let deepgram = ApiError::unauthorized(Api::Deepgram).body();
        assert_eq!(deepgram["err_code"], "INVALID_AUTH");
        assert!(deepgram["request_id"].is_string());
        let eleven = ApiError::injected(Api::ElevenLabs, 429).body();
        assert_eq!(eleven["detail"]["status"], "too_many_concurrent_requests");
        let server = ApiError::injected(Api::OpenAi, 500).body();
        assert!(server["error"]["code"].is_null());
    }
}
