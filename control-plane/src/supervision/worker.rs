//! Finding the worker that holds a live call, and reaching it.

use shared::CallStatus;
use std::sync::OnceLock;
use std::time::Duration;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a worker's supervision token lives: one request or one listen connection's
/// start (the worker checks it on connect only).
const TOKEN_TTL_SEC: i64 = 300;
/// A control must reach the worker quickly or be reported as failed.
pub(super) const WORKER_TIMEOUT: Duration = Duration::from_secs(5);

/// A live call's worker, with a token for it.
pub(super) struct CallWorker {
    pub call_id: Uuid,
    /// `http(s)://host:port` of the worker's supervision API.
    pub base_url: String,
    pub token: String,
}

/// Whether the caller's organization has call `id` (else 404, whatever the reason).
pub(super) async fn ensure_call(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<(), ApiError> {
    let found = sqlx::query_scalar!(
        "select true from calls where id = $1 and org_id = $2",
        id,
        caller.org_id
    )
    .fetch_optional(&state.db)
    .await?;
    found.map(|_| ()).ok_or(ApiError::NotFound("call"))
}

/// The worker holding the caller's live call `id`.
pub(super) async fn locate(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<CallWorker, ApiError> {
    let row = sqlx::query!(
        "select c.status, c.worker_id, w.supervise_url as \"supervise_url?\"
         from calls c left join workers w on w.id = c.worker_id
         where c.id = $1 and c.org_id = $2",
        id,
        caller.org_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(ApiError::NotFound("call"))?;
    let status: CallStatus = row.status.parse().map_err(anyhow::Error::new)?;
    if status.is_terminal() {
        return Err(ApiError::Conflict(format!(
            "the call is {status}, not live"
        )));
    }
    if row.worker_id.is_none() {
        return Err(ApiError::Conflict(
            "no agent worker holds the call yet".into(),
        ));
    }
    let base_url = row
        .supervise_url
        .ok_or_else(|| ApiError::Conflict("the call's worker does not offer supervision".into()))?;
    let expires = state.engine.clock().now().timestamp() + TOKEN_TTL_SEC;
    Ok(CallWorker {
        call_id: id,
        token: state.engine.tokens().mint(id, caller.org_id, expires),
        base_url: base_url.trim_end_matches('/').to_string(),
    })
}

impl CallWorker {
    /// `.../internal/calls/{id}/{what}` on the worker.
    pub(super) fn url(&self, what: &str) -> String {
        format!("{}/internal/calls/{}/{what}", self.base_url, self.call_id)
    }

    /// The same as a WebSocket URL.
    pub(super) fn ws_url(&self, what: &str) -> String {
        let url = self.url(what);
        match url.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!("ws://{}", url.trim_start_matches("http://")),
        }
    }
}

/// One HTTP client for every control (connection reuse across requests).
pub(super) fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(WORKER_TIMEOUT)
            .build()
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_urls_follow_the_scheme() {
        let worker = |base: &str| CallWorker {
            call_id: Uuid::nil(),
            base_url: base.into(),
            token: String::new(),
        };
        let id = Uuid::nil();
        assert_eq!(
            worker("http://10.0.0.7:8081").ws_url("supervise"),
            format!("ws://10.0.0.7:8081/internal/calls/{id}/supervise")
        );
        assert_eq!(
            worker("https://w.example.com").ws_url("supervise"),
            format!("wss://w.example.com/internal/calls/{id}/supervise")
        );
        assert_eq!(
            worker("http://w:1").url("control"),
            format!("http://w:1/internal/calls/{id}/control")
        );
    }
}
