//! Credentials on the internal API.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use secrecy::ExposeSecret;
use shared::token::{CallClaims, TokenError};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The claims of a valid token for exactly this call; a token for another call is 403.
/// Expiry is judged by the engine's clock, the one that minted it.
pub(super) fn call_token(
    state: &AppState,
    headers: &HeaderMap,
    call: Uuid,
) -> Result<CallClaims, ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    state
        .engine
        .tokens()
        .verify_for(token, call, state.engine.clock().now().timestamp())
        .map_err(|err| match err {
            TokenError::WrongCall => ApiError::Forbidden("the token is for another call".into()),
            TokenError::Invalid => ApiError::Unauthorized,
        })
}

/// The workers' shared API key.
pub(super) fn worker_key(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = bearer(headers).ok_or(ApiError::Unauthorized)?;
    let expected = state.settings.workers.api_key.expose_secret();
    let same = given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}
