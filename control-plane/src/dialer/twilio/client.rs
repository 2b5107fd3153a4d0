//! A small client for Twilio's REST Calls API (form-encoded, HTTP Basic, JSON answers).
//! The base URL is configurable so tests point it at the Twilio emulator.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Deserialize;

use super::parse_status;
use crate::dialer::{DialError, ProviderAccount, ProviderCall};

/// Calls API client.
#[derive(Debug, Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
}

/// The parts of Twilio's call resource we use.
#[derive(Debug, Clone, Deserialize)]
pub struct CallResource {
    pub sid: String,
    pub status: String,
    pub duration: Option<String>,
    /// RFC 2822, e.g. `Tue, 24 Nov 2026 15:00:00 +0000`.
    pub date_created: Option<String>,
}

impl CallResource {
    /// When Twilio created the call.
    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let text = self.date_created.as_deref()?;
        chrono::DateTime::parse_from_rfc2822(text)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }

    pub(super) fn into_provider_call(self) -> Option<ProviderCall> {
        Some(ProviderCall {
            status: parse_status(&self.status)?,
            duration_sec: self.duration.and_then(|d| d.parse().ok()),
            provider_call_id: self.sid,
        })
    }
}

#[derive(Debug, Deserialize)]
struct CallList {
    calls: Vec<CallResource>,
}

/// Twilio's error body.
#[derive(Debug, Deserialize)]
struct ApiErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    #[error("Twilio error {code:?} (HTTP {status}): {message}")]
    Api {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// Connecting failed: nothing reached Twilio.
    #[error("could not connect to Twilio: {0}")]
    Connect(String),
    /// Sent, but no usable answer came back: Twilio may have acted on it.
    #[error("no usable answer from Twilio: {0}")]
    Transport(String),
}

impl TwilioError {
    /// The engine's view of this failure.
    pub fn into_dial_error(self) -> DialError {
        match self {
            TwilioError::Api {
                code: Some(21211 | 21214 | 21217 | 13223 | 13224),
                message,
                ..
            } => DialError::InvalidNumber(message),
            TwilioError::Api {
                code: Some(20429), ..
            }
            | TwilioError::Api { status: 429, .. } => DialError::RateLimited,
            TwilioError::Api {
                code: Some(20003),
                message,
                ..
            }
            | TwilioError::Api {
                status: 401,
                message,
                ..
            } => DialError::BadCredentials(message),
            TwilioError::Api {
                status,
                code,
                message,
            } if status >= 500 => {
                DialError::Unknown(format!("HTTP {status} code {code:?}: {message}"))
            }
            TwilioError::Api { code, message, .. } => {
                DialError::Refused(format!("code {code:?}: {message}"))
            }
            TwilioError::Connect(message) => DialError::NotSent(message),
            TwilioError::Transport(message) => DialError::Unknown(message),
        }
    }
}

impl TwilioClient {
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        Self {
            http: http_client(timeout),
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    fn calls_url(&self, account: &ProviderAccount) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls",
            self.base_url, account.account_sid
        )
    }

    /// `POST Calls.json`; success is 201 with the call resource.
    pub async fn create_call(
        &self,
        account: &ProviderAccount,
        form: &[(&str, String)],
    ) -> Result<CallResource, TwilioError> {
        let request = self
            .http
            .post(format!("{}.json", self.calls_url(account)))
            .basic_auth(
                &account.account_sid,
                Some(account.auth_token.expose_secret()),
            )
            .form(form);
        self.send(request).await
    }

    /// `POST Calls/{sid}.json`: hang up (`Status`) or redirect (`Twiml`, `Url`).
    pub async fn update_call(
        &self,
        account: &ProviderAccount,
        sid: &str,
        form: &[(&str, String)],
    ) -> Result<CallResource, TwilioError> {
        let request = self
            .http
            .post(format!("{}/{sid}.json", self.calls_url(account)))
            .basic_auth(
                &account.account_sid,
                Some(account.auth_token.expose_secret()),
            )
            .form(form);
        self.send(request).await
    }

    /// `GET Calls/{sid}.json`.
    pub async fn fetch_call(
        &self,
        account: &ProviderAccount,
        sid: &str,
    ) -> Result<CallResource, TwilioError> {
        let request = self
            .http
            .get(format!("{}/{sid}.json", self.calls_url(account)))
            .basic_auth(
                &account.account_sid,
                Some(account.auth_token.expose_secret()),
            );
        self.send(request).await
    }

    /// `GET Calls.json?To=&From=`: recent calls between two numbers.
    pub async fn list_calls(
        &self,
        account: &ProviderAccount,
        to: &str,
        from: &str,
    ) -> Result<Vec<CallResource>, TwilioError> {
        let request = self
            .http
            .get(format!("{}.json", self.calls_url(account)))
            .basic_auth(
                &account.account_sid,
                Some(account.auth_token.expose_secret()),
            )
            .query(&[("To", to), ("From", from), ("PageSize", "50")]);
        let list: CallList = self.send(request).await?;
        Ok(list.calls)
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, TwilioError> {
        send(request).await
    }
}

/// An HTTP client for Twilio's APIs: `timeout` per request, 5 s to connect.
pub(crate) fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("a reqwest client with timeouts builds")
}

/// Sends a Twilio REST request and reads its JSON answer, or Twilio's error body.
pub(crate) async fn send<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, TwilioError> {
    let (status, body) = exchange(request).await?;
    serde_json::from_slice(&body)
        .map_err(|err| TwilioError::Transport(format!("unreadable answer (HTTP {status}): {err}")))
}

/// Sends a request whose success has no body (`DELETE` answers 204).
pub(crate) async fn send_no_content(request: reqwest::RequestBuilder) -> Result<(), TwilioError> {
    exchange(request).await.map(|_| ())
}

async fn exchange(
    request: reqwest::RequestBuilder,
) -> Result<(u16, axum::body::Bytes), TwilioError> {
    let response = request.send().await.map_err(|err| {
        if err.is_connect() {
            TwilioError::Connect(err.to_string())
        } else {
            TwilioError::Transport(err.to_string())
        }
    })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|err| TwilioError::Transport(err.to_string()))?;
    if status.is_success() {
        return Ok((status.as_u16(), body));
    }
    let parsed: Option<ApiErrorBody> = serde_json::from_slice(&body).ok();
    Err(TwilioError::Api {
        status: status.as_u16(),
        code: parsed.as_ref().and_then(|b| b.code),
        message: parsed
            .and_then(|b| b.message)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned()),
    })
}
