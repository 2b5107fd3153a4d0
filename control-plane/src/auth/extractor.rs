//! The `Caller` extractor: turns `Authorization: Bearer ...` (or, for the console, its
//! session cookie) into an organization id.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use super::credentials::{hash_api_key, API_KEY_PREFIX};
use crate::error::ApiError;
use crate::limits::RateSlot;
use crate::state::AppState;

/// An authenticated caller. Every query a handler makes filters by `org_id`.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub org_id: Uuid,
    /// The user behind a session token; `None` for API keys.
    pub user_id: Option<Uuid>,
    /// The API key used, if any.
    pub api_key_id: Option<Uuid>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(|token| token.trim().to_string());
        // Without `Authorization`, the console's cookie session (with its CSRF check on
        // unsafe methods). It only ever holds a session JWT, never an API key.
        let token = match bearer {
            Some(token) => token,
            None => match crate::console::session::cookie_token(parts) {
                Some(Ok(jwt)) if !jwt.starts_with(API_KEY_PREFIX) => jwt,
                Some(Err(refused)) => return Err(refused),
                _ => return Err(ApiError::Unauthorized),
            },
        };
        let token = token.as_str();

        let caller = if token.starts_with(API_KEY_PREFIX) {
            let row = sqlx::query!(
                // last_used_at is refreshed at most once a minute: no write on every request.
                // It is an audit stamp on the database's clock; no rule reads it.
                r#"with key as (
                       select id, org_id from api_keys where key_hash = $1 and revoked_at is null
                   ), touched as (
                       update api_keys set last_used_at = now()
                       where id = (select id from key)
                         and (last_used_at is null or last_used_at < now() - interval '1 minute')
                   )
                   select id as "id!", org_id as "org_id!" from key"#,
                hash_api_key(token)
            )
            .fetch_optional(&state.db)
            .await?
            .ok_or(ApiError::Unauthorized)?;
            Caller {
                org_id: row.org_id,
                user_id: None,
                api_key_id: Some(row.id),
            }
        } else {
            let claims = state.sessions.verify(token).ok_or(ApiError::Unauthorized)?;
            Caller {
                org_id: claims.org,
                user_id: Some(claims.sub),
                api_key_id: None,
            }
        };
        tracing::Span::current().record("org_id", tracing::field::display(caller.org_id));
        // Counted once credentials hold: a flood of bad tokens is the 401s' business,
        // not an organization's budget.
        if let Some(info) = state.limits.api_request(caller.org_id, caller.api_key_id)? {
            if let Some(slot) = parts.extensions.get::<RateSlot>() {
                slot.set(info);
            }
        }
        Ok(caller)
    }
}
