//! Sending a text: the checks (a number of ours to send from, not on the DNC list), the
//! message row first (so a status callback always finds it), then Twilio.

use uuid::Uuid;

use super::client::create_message;
use crate::db::messages::{self, MessageRow, NewMessage};
use crate::db::numbers::{self, NumberRow};
use crate::dialer::twilio::TwilioError;
use crate::error::ApiError;
use crate::state::AppState;

/// Twilio's longest body.
pub const MAX_BODY: usize = 1600;

/// A text to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub org: Uuid,
    /// E.164.
    pub to: &'a str,
    pub body: &'a str,
    /// Send from this number of ours (E.164); default: the organization's first number.
    pub from: Option<&'a str>,
    pub contact_id: Option<Uuid>,
    pub call_id: Option<Uuid>,
}

/// Why a text was not sent at all (nothing stored).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<SendError> for ApiError {
    fn from(err: SendError) -> Self {
        match err {
            SendError::Invalid { field, message } => ApiError::invalid(field, message),
            SendError::Database(err) => err.into(),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> SendError {
    SendError::Invalid {
        field,
        message: message.into(),
    }
}

/// The number to send from: the one named, else the organization's first.
async fn sender(state: &AppState, org: Uuid, from: Option<&str>) -> Result<NumberRow, SendError> {
    match from {
        Some(from) => numbers::find_by_number(&state.db, org, from)
            .await?
            .ok_or_else(|| invalid("from", "is not one of the organization's numbers")),
        None => {
            // The first registered number: the steadiest default sender.
            let first = sqlx::query_scalar!(
                "select id from phone_numbers where org_id = $1 order by created_at, id limit 1",
                org
            )
            .fetch_optional(&state.db)
            .await?;
            let chosen = match first {
                Some(id) => numbers::get(&state.db, org, id).await?,
                None => None,
            };
            chosen.ok_or_else(|| {
                invalid(
                    "from",
                    "the organization has no number to text from (POST /api/v1/numbers)",
                )
            })
        }
    }
}

/// Sends a text. The message is stored before Twilio is asked; Twilio's refusal (such as
/// 21610, a recipient who opted out at Twilio) is stored on it as `failed` with the code.
pub async fn send(state: &AppState, out: Outgoing<'_>) -> Result<MessageRow, SendError> {
    let length = out.body.chars().count();
    if length == 0 || out.body.trim().is_empty() || length > MAX_BODY {
        return Err(invalid(
            "body",
            format!("must be 1 to {MAX_BODY} characters"),
        ));
    }
    let on_dnc = sqlx::query_scalar!(
        r#"select exists(select 1 from dnc where org_id = $1 and phone = $2) as "hit!""#,
        out.org,
        out.to
    )
    .fetch_one(&state.db)
    .await?;
    if on_dnc {
        return Err(invalid("to", "the number is on the Do-Not-Call list"));
    }
    let from = sender(state, out.org, out.from).await?;
    let trunk = sqlx::query!(
        "select account_sid, auth_token_enc from trunks where id = $1",
        from.trunk_id
    )
    .fetch_one(&state.db)
    .await?;
    let account = state
        .engine
        .account_for(
            trunk.account_sid.as_deref(),
            trunk.auth_token_enc.as_deref(),
        )
        .ok_or_else(|| invalid("from", "no Twilio account serves this number's trunk"))?;
    let contact_id = match out.contact_id {
        Some(id) => Some(id),
        None => crate::inbound::contact::find(&state.db, out.org, out.to)
            .await?
            .map(|c| c.id),
    };
    let now = state.engine.clock().now();
    let row = messages::insert(
        &state.db,
        &NewMessage {
            org_id: out.org,
            contact_id,
            call_id: out.call_id,
            phone_number_id: Some(from.id),
            direction: "outbound",
            from: &from.number,
            to: out.to,
            body: out.body,
            status: "accepted",
            provider_message_id: None,
            at: now,
        },
    )
    .await?
    .ok_or_else(|| SendError::Database(sqlx::Error::RowNotFound))?;
    let callback = format!(
        "{}/webhooks/twilio/message-status?messageId={}",
        state.settings.server.public_url.trim_end_matches('/'),
        row.id
    );
    let twilio = &state.settings.twilio;
    let sent = create_message(
        &twilio.base_url,
        twilio.request_timeout_sec,
        &account,
        &[
            ("To", out.to),
            ("From", &from.number),
            ("Body", out.body),
            ("StatusCallback", &callback),
        ],
    )
    .await;
    match sent {
        Ok(message) => {
            messages::record_sent(
                &state.db,
                row.id,
                Some(&message.sid),
                &message.status,
                message.error_code.map(|c| c as i32),
                message.error_message.as_deref(),
            )
            .await?
        }
        Err(err) => {
            tracing::warn!(message_id = %row.id, error = %err, "Twilio did not take a text");
            let (code, text) = match &err {
                TwilioError::Api { code, message, .. } => (code.map(|c| c as i32), message.clone()),
                other => (None, other.to_string()),
            };
            messages::record_sent(&state.db, row.id, None, "failed", code, Some(&text)).await?
        }
    }
    Ok(messages::get(&state.db, out.org, row.id)
        .await?
        .unwrap_or(row))
}

/// The agent's `send_sms`: texts the call's other party from the number the call used.
pub async fn for_call(state: &AppState, call: Uuid, body: &str) -> anyhow::Result<MessageRow> {
    let row = sqlx::query!(
        r#"select c.org_id, c.direction, c.to_phone, c.from_phone, c.contact_id,
                  n.number as "number?"
           from calls c left join phone_numbers n on n.id = c.phone_number_id
           where c.id = $1"#,
        call
    )
    .fetch_one(&state.db)
    .await?;
    let (to, ours) = if row.direction == "inbound" {
        (row.from_phone.unwrap_or_default(), row.number)
    } else {
        (row.to_phone, row.from_phone)
    };
    // Send from the number the call used when it is one of our registered numbers.
    let from = match ours {
        Some(ours) => numbers::find_by_number(&state.db, row.org_id, &ours)
            .await?
            .map(|n| n.number),
        None => None,
    };
    let sent = send(
        state,
        Outgoing {
            org: row.org_id,
            to: &to,
            body,
            from: from.as_deref(),
            contact_id: row.contact_id,
            call_id: Some(call),
        },
    )
    .await?;
    Ok(sent)
}
