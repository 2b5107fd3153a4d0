//! The `SignedForm` extractor: a Twilio form POST for one of our calls, whose
//! `X-Twilio-Signature` checks out against the auth token of the account that call was
//! placed with, and which names that account and that call.
//!
//! The call comes first: its `?callId=` picks the call, the call picks its trunk, and the
//! trunk (or the deployment's account, when the trunk carries none) picks the one token
//! the signature may be made with. A token is never looked up by the posted `AccountSid`:
//! any organization may register any account SID on its own trunk, so a lookup by SID
//! would let one organization sign callbacks for another's calls.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::signature;
use crate::dialer::ProviderAccount;
use crate::error::ApiError;
use crate::state::AppState;

/// A verified callback: its form parameters and the call it is for.
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

/// One refusal for every way a callback fails to prove itself, so that the answer does
/// not tell a prober whether a call id exists or which check failed.
fn refused(reason: &str, call_id: Option<Uuid>) -> ApiError {
    tracing::warn!(?call_id, reason, "refused a Twilio callback");
    ApiError::Forbidden("callback refused: not signed for this call".into())
}

/// A callback as received, not yet checked: [`UnverifiedForm::verify`] checks it, on the
/// pool or inside the transaction that then acts on it (one transaction per callback).
#[derive(Debug)]
pub struct UnverifiedForm {
    call_id: Uuid,
    params: Vec<(String, String)>,
    /// The URL Twilio signed: our public URL plus the path and query.
    url: String,
    signature: String,
}

impl FromRequest<AppState> for UnverifiedForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let signature = parts
            .headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| ApiError::Forbidden("missing X-Twilio-Signature".into()))?;
        let call_id = parts
            .uri
            .query()
            .and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "callId")
                    .and_then(|(_, v)| v.parse::<Uuid>().ok())
            })
            .ok_or_else(|| ApiError::BadRequest("callback URL has no callId".into()))?;
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
        // The parts move back into the request (no copy of its headers per callback).
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| ApiError::BadRequest("unreadable body".into()))?;
        let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        Ok(Self {
            call_id,
            params,
            url,
            signature,
        })
    }
}

impl UnverifiedForm {
    /// Checks the callback against its call's account (looked up through `db`).
    pub async fn verify<'e>(
        self,
        db: impl sqlx::PgExecutor<'e>,
        state: &AppState,
    ) -> Result<SignedForm, ApiError> {
        let call_id = self.call_id;
        let call = call_account(db, state, call_id)
            .await?
            .ok_or_else(|| refused("unknown call or no account serves its trunk", Some(call_id)))?;
        let token = call.account.auth_token.expose_secret();
        if !signature::validate_form(token, &self.url, &self.params, &self.signature) {
            return Err(refused("bad signature", Some(call_id)));
        }
        let form = SignedForm {
            call_id,
            params: self.params,
        };
        if form.get("AccountSid") != Some(call.account.account_sid.as_str()) {
            return Err(refused(
                "AccountSid is not the call's account",
                Some(call_id),
            ));
        }
        // Once Twilio has named the call, every callback must be about that call; before
        // that (the status callback that first tells us the sid) the account check above
        // is what ties it to us.
        if let Some(known) = &call.provider_call_id {
            if form.get("CallSid") != Some(known.as_str()) {
                return Err(refused("CallSid is not the call's", Some(call_id)));
            }
        }
        Ok(form)
    }
}

impl FromRequest<AppState> for SignedForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        UnverifiedForm::from_request(request, state)
            .await?
            .verify(&state.db, state)
            .await
    }
}

/// What a callback is checked against: the call's provider id and its account.
struct CallAccount {
    provider_call_id: Option<String>,
    account: ProviderAccount,
}

/// The call's provider id and the account it was placed with: its trunk's own, else the
/// deployment's (the same choice the engine makes when dialing). `None` for an unknown
/// call, or one that no account serves.
async fn call_account<'e>(
    db: impl sqlx::PgExecutor<'e>,
    state: &AppState,
    call_id: Uuid,
) -> Result<Option<CallAccount>, ApiError> {
    let Some(row) = sqlx::query!(
        "select c.provider_call_id, t.account_sid as \"account_sid?\",
                t.auth_token_enc as \"auth_token_enc?\"
         from calls c left join trunks t on t.id = c.trunk_id where c.id = $1",
        call_id
    )
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let account = state
        .engine
        .account_for(row.account_sid.as_deref(), row.auth_token_enc.as_deref());
    Ok(account.map(|account| CallAccount {
        provider_call_id: row.provider_call_id,
        account,
    }))
}
