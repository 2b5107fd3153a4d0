//! The console's session: the session JWT kept in an `HttpOnly; SameSite=Strict` cookie,
//! out of reach of any script the page runs, with a signed double-submit CSRF token.
//!
//! Signing in (`POST /console/session`) or registering (`POST /console/register`) runs the
//! public API's own login and registration (same checks, limits and errors) and, instead
//! of handing the token to JavaScript, sets two cookies:
//! - `oc_session`: the JWT, `HttpOnly`, `SameSite=Strict`, `Secure` behind https;
//! - `oc_csrf`: readable by the page, the hex SHA-256 of the JWT. The page echoes it in
//!   `X-CSRF-Token` on every request that changes something.
//!
//! [`cookie_token`] is what the API's `Caller` extractor falls back to when a request has
//! no `Authorization` header: a cookie-borne session counts only with a matching CSRF
//! header on unsafe methods. The token is derived from the JWT, so a cookie an attacker
//! plants (from a sibling subdomain, say) cannot be paired with a header they can compute.
//! Bearer tokens and API keys are untouched: a request that carries `Authorization` is
//! judged by it alone.

use axum::extract::State;
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::auth::{self as api_auth, LoginRequest, RegisterRequest, SessionResponse};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::ApiJson;
use crate::limits::ClientAddress;
use crate::state::AppState;

/// The cookie that holds the session JWT.
pub const SESSION_COOKIE: &str = "oc_session";
/// The cookie the page reads its CSRF token from.
pub const CSRF_COOKIE: &str = "oc_csrf";
/// The header the page sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who is signed in, as the page sees it (no token: that stays in the cookie).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleSession {
    pub user_id: Uuid,
    pub email: String,
    pub organization_id: Uuid,
    pub organization_name: String,
}

/// The CSRF token that goes with a session JWT.
pub fn csrf_token(jwt: &str) -> String {
    hex::encode(Sha256::digest(format!("oc-console-csrf:{jwt}").as_bytes()))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The session JWT of a cookie-authenticated request: `None` without the cookie,
/// `Some(Err)` when the request changes something without the matching CSRF header.
pub fn cookie_token(parts: &Parts) -> Option<Result<String, ApiError>> {
    let jwt = cookie(&parts.headers, SESSION_COOKIE).filter(|v| !v.is_empty())?;
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), csrf_token(jwt).as_bytes()) {
            return Some(Err(ApiError::Forbidden(
                "missing or wrong X-CSRF-Token for a cookie session".into(),
            )));
        }
    }
    Some(Ok(jwt.to_string()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses a cross-origin sign-in or registration: a browser always sends `Origin` on a
/// cross-site POST, and it must name this host (a second line behind SameSite=Strict and
/// the JSON content type, which a plain cross-site form cannot send).
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
    if !host.is_empty() && origin_host == host {
        Ok(())
    } else {
        Err(ApiError::Forbidden("cross-origin sign-in refused".into()))
    }
}

/// `POST /console/session`: signs in and sets the cookies.
pub async fn sign_in(
    State(state): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
    body: ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let ApiJson(session) = api_auth::login(State(state.clone()), address, body).await?;
    Ok(with_cookies(&state, StatusCode::OK, session))
}

/// `POST /console/register`: creates the organization and its first user, signed in.
pub async fn register(
    State(state): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
    body: ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let (status, ApiJson(session)) =
        api_auth::register(State(state.clone()), address, body).await?;
    Ok(with_cookies(&state, status, session))
}

/// `GET /console/session`: who the cookie (or bearer token) belongs to.
pub async fn current(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<ApiJson<ConsoleSession>, ApiError> {
    let user_id = caller.user_id.ok_or(ApiError::Unauthorized)?;
    let row = sqlx::query!(
        "select u.email, o.id as org_id, o.name as org_name
         from users u join organizations o on o.id = u.org_id
         where u.id = $1 and u.org_id = $2",
        user_id,
        caller.org_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(ApiError::Unauthorized)?;
    Ok(ApiJson(ConsoleSession {
        user_id,
        email: row.email,
        organization_id: row.org_id,
        organization_name: row.org_name,
    }))
}

/// `DELETE /console/session`: clears the cookies. The JWT itself stays valid until it
/// expires (sessions are stateless); the browser no longer holds it.
pub async fn sign_out(State(state): State<AppState>) -> Response {
    let secure = secure(&state);
    let mut response = StatusCode::NO_CONTENT.into_response();
    for cookie in [
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
        format!("{CSRF_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0{secure}"),
    ] {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

fn secure(state: &AppState) -> &'static str {
    if state.settings.server.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

/// The session's answer without its token, with the two cookies set.
fn with_cookies(state: &AppState, status: StatusCode, session: SessionResponse) -> Response {
    let max_age = state.settings.auth.jwt_ttl_hours * 3600;
    let secure = secure(state);
    let csrf = csrf_token(&session.token);
    let body = ConsoleSession {
        user_id: session.user.id,
        email: session.user.email,
        organization_id: session.organization.id,
        organization_name: session.organization.name,
    };
    let mut response = (status, ApiJson(body)).into_response();
    for cookie in [
        format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
            session.token
        ),
        format!("{CSRF_COOKIE}={csrf}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}"),
    ] {
        // A JWT and a hex digest are always valid header values.
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}
