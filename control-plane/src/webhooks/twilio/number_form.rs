//! `SignedNumberForm` and `SignedMessageForm`: Twilio form POSTs about one of our numbers
//! (an inbound call, an inbound text, an inbound call's status) or one of our messages
//! (its delivery status), checked as `SignedForm` checks callbacks about calls.
//!
//! The URL's `?numberId=` (or `?messageId=`) comes first: it picks the row, the row picks
//! its trunk, and the trunk (or the deployment's account) the one token the signature may be
//! made with. The posted `AccountSid` must be that account's, and for a number, the posted
//! `To` (calls) or `To`/`From` (texts) must be the number itself.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::signature;
use crate::db::numbers::{self, NumberRow};
use crate::dialer::ProviderAccount;
use crate::error::ApiError;
use crate::state::AppState;

/// A verified webhook about one of our numbers.
#[derive(Debug)]
pub struct SignedNumberForm {
    pub number: NumberRow,
    pub params: Vec<(String, String)>,
}

/// A verified status callback about one of our outbound messages.
#[derive(Debug)]
pub struct SignedMessageForm {
    pub message_id: Uuid,
    pub org_id: Uuid,
    pub params: Vec<(String, String)>,
}

/// The first value of `name` in `params`.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl SignedNumberForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

impl SignedMessageForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

/// One refusal for every failure, so a prober learns nothing about which check failed.
fn refused(reason: &str, id: Option<Uuid>) -> ApiError {
    tracing::warn!(?id, reason, "refused a Twilio webhook");
    ApiError::Forbidden("webhook refused: not signed for this number".into())
}

/// The form, the signature header, the URL Twilio called and the id in its query.
struct RawForm {
    id: Uuid,
    url: String,
    signature: String,
    params: Vec<(String, String)>,
}

impl RawForm {
    async fn read(request: Request, state: &AppState, key: &str) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let signature = parts
            .headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| ApiError::Forbidden("missing X-Twilio-Signature".into()))?;
        let id = parts
            .uri
            .query()
            .and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == key)
                    .and_then(|(_, v)| v.parse::<Uuid>().ok())
            })
            .ok_or_else(|| ApiError::BadRequest(format!("webhook URL has no {key}")))?;
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
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| ApiError::BadRequest("unreadable body".into()))?;
        let params = form_urlencoded::parse(&body).into_owned().collect();
        Ok(RawForm {
            id,
            url,
            signature,
            params,
        })
    }

    /// Signed with `account`'s token and naming `account`.
    fn signed_by(&self, account: &ProviderAccount) -> bool {
        signature::validate_form(
            account.auth_token.expose_secret(),
            &self.url,
            &self.params,
            &self.signature,
        ) && param(&self.params, "AccountSid") == Some(account.account_sid.as_str())
    }
}

/// The Twilio account a trunk acts with: its own, else the deployment's.
async fn trunk_account(
    state: &AppState,
    trunk_id: Uuid,
) -> Result<Option<ProviderAccount>, ApiError> {
    let row = sqlx::query!(
        "select account_sid, auth_token_enc from trunks where id = $1",
        trunk_id
    )
    .fetch_optional(&state.db)
    .await?;
    Ok(row.and_then(|r| {
        state
            .engine
            .account_for(r.account_sid.as_deref(), r.auth_token_enc.as_deref())
    }))
}

impl FromRequest<AppState> for SignedNumberForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let form = RawForm::read(request, state, "numberId").await?;
        let number = numbers::get_for_webhook(&state.db, form.id)
            .await?
            .ok_or_else(|| refused("unknown number", Some(form.id)))?;
        let account = trunk_account(state, number.trunk_id)
            .await?
            .ok_or_else(|| refused("no account serves the number's trunk", Some(form.id)))?;
        if !form.signed_by(&account) {
            return Err(refused("bad signature or account", Some(form.id)));
        }
        // A call or text to us names our number as `To`.
        if param(&form.params, "To") != Some(number.number.as_str()) {
            return Err(refused("To is not the number", Some(form.id)));
        }
        Ok(SignedNumberForm {
            number,
            params: form.params,
        })
    }
}

impl FromRequest<AppState> for SignedMessageForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let form = RawForm::read(request, state, "messageId").await?;
        let row = sqlx::query!(
            r#"select m.org_id, m.provider_message_id, n.trunk_id as "trunk_id?"
               from messages m left join phone_numbers n on n.id = m.phone_number_id
               where m.id = $1"#,
            form.id
        )
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| refused("unknown message", Some(form.id)))?;
        let account = match row.trunk_id {
            Some(trunk) => trunk_account(state, trunk).await?,
            None => state.engine.account_for(None, None),
        }
        .ok_or_else(|| refused("no account serves the message", Some(form.id)))?;
        if !form.signed_by(&account) {
            return Err(refused("bad signature or account", Some(form.id)));
        }
        if let Some(known) = &row.provider_message_id {
            if param(&form.params, "MessageSid") != Some(known.as_str()) {
                return Err(refused("MessageSid is not the message's", Some(form.id)));
            }
        }
        Ok(SignedMessageForm {
            message_id: form.id,
            org_id: row.org_id,
            params: form.params,
        })
    }
}
