//! The `SignedForm` extractor: a Twilio form POST whose `X-Twilio-Signature` checks out
//! against the auth token of the account it names. Anything else is a 403.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::signature;
use crate::error::ApiError;
use crate::state::AppState;

/// A verified callback: its form parameters and the call id from its URL.
#[derive(Debug)]
pub struct SignedForm {
    pub call_id: Uuid,
    pub params: Vec<(String, String)>,
}

impl SignedForm {
    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FromRequest<AppState> for SignedForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let signature_header = parts
            .headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| ApiError::Forbidden("missing X-Twilio-Signature".into()))?;
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|_| ApiError::BadRequest("unreadable body".into()))?;
        let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        // Twilio signs the URL it called: our public URL plus the path and query.
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let url = format!(
            "{}{}",
            state.settings.server.public_url.trim_end_matches('/'),
            path_and_query
        );
        let account_sid = params
            .iter()
            .find(|(k, _)| k == "AccountSid")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let token = auth_token_for(state, account_sid)
            .await?
            .ok_or_else(|| ApiError::Forbidden("unknown Twilio account".into()))?;
        if !signature::validate_form(&token, &url, &params, &signature_header) {
            tracing::warn!(url = %url, "refused a Twilio callback with a bad signature");
            return Err(ApiError::Forbidden("invalid X-Twilio-Signature".into()));
        }
        let call_id = parts
            .uri
            .query()
            .and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "callId")
                    .and_then(|(_, v)| v.parse::<Uuid>().ok())
            })
            .ok_or_else(|| ApiError::BadRequest("callback URL has no callId".into()))?;
        Ok(Self { call_id, params })
    }
}

/// The auth token of the deployment's account, or of a trunk that carries its own.
async fn auth_token_for(state: &AppState, account_sid: &str) -> Result<Option<String>, ApiError> {
    let twilio = &state.settings.twilio;
    if twilio.account_sid.as_deref() == Some(account_sid) {
        return Ok(twilio
            .auth_token
            .as_ref()
            .map(|t| t.expose_secret().to_string()));
    }
    let sealed = sqlx::query_scalar!(
        "select auth_token_enc from trunks
         where account_sid = $1 and auth_token_enc is not null limit 1",
        account_sid
    )
    .fetch_optional(&state.db)
    .await?
    .flatten();
    Ok(match sealed {
        Some(sealed) => Some(state.secrets.open(&sealed)?.expose_secret().to_string()),
        None => None,
    })
}
