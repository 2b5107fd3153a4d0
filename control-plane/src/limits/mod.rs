//! Abuse limits, counted in this process's memory (per replica; see `window`):
//! - sign-in and registration per client address and per account (email), with a lock
//!   after repeated failed logins;
//! - the authenticated API per API key and per organization, shown to clients as
//!   `X-RateLimit-*` headers on every answer.
//!
//! Over a limit is a 429 with `Retry-After`. Every number is a setting (`[limits]`).

pub mod lockout;
pub mod window;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

use crate::config::LimitSettings;
use crate::error::ApiError;
use crate::state::AppState;
use lockout::Lockout;
use window::{RateInfo, Windows};

const MINUTE: Duration = Duration::from_secs(60);

/// Every limiter of this replica.
#[derive(Debug)]
pub struct Limits {
    enabled: bool,
    auth_by_address: Windows,
    auth_by_account: Windows,
    logins: Lockout,
    by_api_key: Windows,
    by_org: Windows,
}

impl Limits {
    pub fn new(settings: &LimitSettings) -> Self {
        Self {
            enabled: settings.enabled,
            auth_by_address: Windows::new(settings.auth_per_address_per_minute, MINUTE),
            auth_by_account: Windows::new(settings.auth_per_account_per_minute, MINUTE),
            logins: Lockout::new(
                settings.login_failures_before_lock.max(1),
                Duration::from_secs(settings.login_lock_sec),
            ),
            by_api_key: Windows::new(settings.api_key_per_minute, MINUTE),
            by_org: Windows::new(settings.org_per_minute, MINUTE),
        }
    }

    /// A login or registration attempt from `address` for `account`; for a login, also
    /// refused while the account is locked.
    pub fn auth_attempt(&self, address: &str, account: &str, login: bool) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        let now = Instant::now();
        if let Err(info) = self.auth_by_address.hit(address, now) {
            return Err(too_many(
                "too many sign-in attempts from this address; try again later",
                info.reset_sec,
                None,
            ));
        }
        if let Err(info) = self.auth_by_account.hit(account, now) {
            return Err(too_many(
                "too many sign-in attempts for this account; try again later",
                info.reset_sec,
                None,
            ));
        }
        if login {
            if let Some(left) = self.logins.locked_for(account, now) {
                return Err(locked(left));
            }
        }
        Ok(())
    }

    /// A failed login: a 401, or the 429 saying the account is now locked.
    pub fn login_failed(&self, account: &str) -> ApiError {
        if !self.enabled {
            return ApiError::Unauthorized;
        }
        match self.logins.failed(account, Instant::now()) {
            Some(lock) => locked(lock),
            None => ApiError::Unauthorized,
        }
    }

    pub fn login_succeeded(&self, account: &str) {
        self.logins.succeeded(account);
    }

    /// A request of `org`, made with `api_key` when it was: counts against the key and
    /// the organization. Returns the tighter of the two standings.
    pub fn api_request(
        &self,
        org: Uuid,
        api_key: Option<Uuid>,
    ) -> Result<Option<RateInfo>, ApiError> {
        if !self.enabled {
            return Ok(None);
        }
        let now = Instant::now();
        let by_org = self.by_org.hit(&org.to_string(), now);
        let by_key = api_key.map(|key| self.by_api_key.hit(&key.to_string(), now));
        let mut tightest: Option<RateInfo> = None;
        for standing in [Some(by_org), by_key].into_iter().flatten() {
            let info = match standing {
                Ok(info) => info,
                Err(info) => {
                    return Err(too_many(
                        "rate limit exceeded; slow down",
                        info.reset_sec,
                        Some(info),
                    ))
                }
            };
            if tightest.is_none_or(|t| info.remaining < t.remaining) {
                tightest = Some(info);
            }
        }
        Ok(tightest)
    }
}

fn too_many(message: &str, retry_after_sec: u64, rate: Option<RateInfo>) -> ApiError {
    ApiError::TooManyRequests {
        message: message.to_string(),
        retry_after_sec,
        rate,
    }
}

fn locked(left: Duration) -> ApiError {
    let sec = left.as_secs().max(1);
    too_many(
        &format!("too many failed logins: this account is locked for {sec} more seconds"),
        sec,
        None,
    )
}

/// Where the API's rate standing is left for [`rate_limit_headers`]: the `Caller`
/// extractor knows the organization and key, the middleware writes the answer.
#[derive(Debug, Clone, Default)]
pub struct RateSlot(Arc<Mutex<Option<RateInfo>>>);

impl RateSlot {
    pub fn set(&self, info: RateInfo) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(info);
    }
}

/// Puts `X-RateLimit-*` on the answers of authenticated API requests.
pub async fn rate_limit_headers(mut request: Request, next: Next) -> Response {
    let slot = RateSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let info = *slot.0.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(info) = info {
        info.write(response.headers_mut());
    }
    response
}

/// The client's address: the socket's peer, or, behind a proxy named in
/// `limits.client_address_header`, the last address that header lists (the one the
/// nearest proxy saw; earlier ones are whatever the client claimed).
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let forwarded = state
            .settings
            .limits
            .client_address_header
            .as_deref()
            .and_then(|name| parts.headers.get(name))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').map(str::trim).find(|a| !a.is_empty()))
            .map(str::to_string);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        Ok(Self(
            forwarded.or(peer).unwrap_or_else(|| "unknown".to_string()),
        ))
    }
}
