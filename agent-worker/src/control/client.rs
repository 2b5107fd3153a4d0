//! [`ControlPlane`]: the HTTP client of the control plane's internal API. Each call is
//! one request whose answer is sorted into the [`ControlError`] the caller needs to
//! decide between retrying, resynchronising and giving up.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use shared::events::CallEvent;
use shared::job::CallJob;
use uuid::Uuid;

use super::heartbeat::Heartbeat;

/// Tries of a job fetch before giving up on a control plane that keeps failing.
const JOB_ATTEMPTS: u32 = 4;
/// The first pause between job fetch tries; it doubles each time.
const JOB_RETRY_DELAY: Duration = Duration::from_millis(200);
/// Most of an error body kept for the error message.
const BODY_EXCERPT: usize = 300;

/// How a request to the control plane failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// 401: the call token or worker key is missing, wrong or expired.
    #[error("the control plane refused the credentials (401)")]
    Unauthorized,
    /// 403: the call token is for another call.
    #[error("the token is for another call (403)")]
    Forbidden,
    /// 404: no such call.
    #[error("the control plane does not know the call (404)")]
    NotFound,
    /// 409 on events: a sequence number is missing.
    #[error("the control plane expects other events (409): {0}")]
    Conflict(String),
    /// Any other 4xx: the request itself is wrong and will not get better.
    #[error("the control plane rejected the request ({status}): {body}")]
    Rejected { status: u16, body: String },
    /// Not reachable, timed out, 5xx, 408 or 429: worth trying again later.
    #[error("the control plane is unavailable: {0}")]
    Unavailable(String),
    /// A 2xx whose body is not what the API promises.
    #[error("unexpected answer from the control plane: {0}")]
    Decode(String),
}

impl ControlError {
    /// Whether the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, ControlError::Unavailable(_))
    }
}

#[derive(Serialize)]
struct EventBatch<'a> {
    events: &'a [CallEvent],
}

#[derive(Deserialize)]
struct EventAck {
    acknowledged: i64,
}

/// The control plane's internal API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    base_url: String,
    http: reqwest::Client,
    /// Bounds every request, so a hung control plane counts as unavailable.
    request_timeout: Duration,
}

impl ControlPlane {
    /// The control plane at `base_url` (`http://host:port`), through `http`.
    pub fn new(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            http,
            request_timeout: Duration::from_secs(10),
        }
    }

    /// Replaces the per-request timeout (10 s by default).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The control plane's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The job of `call`, with the call's token. Transient failures are retried a few
    /// times with backoff; 401, 403 and 404 are final.
    pub async fn fetch_job(
        &self,
        call: Uuid,
        token: &SecretString,
    ) -> Result<CallJob, ControlError> {
        let url = format!("{}/internal/v1/calls/{call}/job", self.base_url);
        let mut delay = JOB_RETRY_DELAY;
        let mut attempt = 1;
        loop {
            let request = self.http.get(&url).bearer_auth(token.expose_secret());
            let result = match self.send(request).await {
                Ok(response) => response
                    .json::<CallJob>()
                    .await
                    .map_err(|err| ControlError::Decode(err.to_string())),
                Err(err) => Err(err),
            };
            match result {
                Err(err) if err.is_transient() && attempt < JOB_ATTEMPTS => {
                    tracing::warn!(%call, attempt, error = %err, "job fetch failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Posts `events` (possibly none, to learn the acknowledged point) to `events_url`;
    /// returns the highest sequence number the control plane has applied. One attempt.
    pub async fn post_events(
        &self,
        events_url: &str,
        token: &SecretString,
        events: &[CallEvent],
    ) -> Result<i64, ControlError> {
        let request = self
            .http
            .post(events_url)
            .bearer_auth(token.expose_secret())
            .json(&EventBatch { events });
        let response = self.send(request).await?;
        let ack: EventAck = response
            .json()
            .await
            .map_err(|err| ControlError::Decode(err.to_string()))?;
        Ok(ack.acknowledged)
    }

    /// Posts one heartbeat with the workers' API key. One attempt.
    pub async fn heartbeat(
        &self,
        api_key: &SecretString,
        beat: &Heartbeat,
    ) -> Result<(), ControlError> {
        let request = self
            .http
            .post(format!("{}/internal/v1/workers/heartbeat", self.base_url))
            .bearer_auth(api_key.expose_secret())
            .json(beat);
        self.send(request).await.map(drop)
    }

    /// Sends a request; a 2xx answer is returned, anything else sorted into an error.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ControlError> {
        let response = request
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|err| ControlError::Unavailable(err.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut body = response.text().await.unwrap_or_default();
        let mut end = body.len().min(BODY_EXCERPT);
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
        Err(match status.as_u16() {
            401 => ControlError::Unauthorized,
            403 => ControlError::Forbidden,
            404 => ControlError::NotFound,
            409 => ControlError::Conflict(body),
            408 | 429 => ControlError::Unavailable(format!("{status}: {body}")),
            code if status.is_server_error() => {
                ControlError::Unavailable(format!("{code}: {body}"))
            }
            code => ControlError::Rejected { status: code, body },
        })
    }
}
