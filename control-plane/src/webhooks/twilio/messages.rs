//! Twilio's messaging webhooks: a text to one of our numbers (stored with the contact its
//! sender's number finds; opt-out and opt-in keywords change the DNC list), and the
//! delivery status of the texts we send.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use shared::PhoneNumber;

use super::number_form::{SignedMessageForm, SignedNumberForm};
use crate::db::messages::{self, NewMessage};
use crate::error::{ApiError, ErrorBody};
use crate::sms::optout;
use crate::state::AppState;

/// A text to one of our numbers (the number's "A message comes in" webhook). Answers an
/// empty `<Response/>`: Twilio itself confirms opt-outs and opt-ins to the sender.
#[utoipa::path(post, path = "/webhooks/twilio/sms", tag = "webhooks", security(()),
    params(("numberId" = uuid::Uuid, Query, description = "Our number's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/xml", body = String, description = "Empty TwiML"),
        (status = 403, body = ErrorBody)))]
pub(super) async fn sms_webhook(
    State(state): State<AppState>,
    form: SignedNumberForm,
) -> Result<impl IntoResponse, ApiError> {
    let sid = form
        .get("MessageSid")
        .or_else(|| form.get("SmsSid"))
        .ok_or_else(|| ApiError::invalid("MessageSid", "missing"))?;
    let raw_from = form
        .get("From")
        .ok_or_else(|| ApiError::invalid("From", "missing"))?;
    let from = PhoneNumber::parse(raw_from, None)
        .map(|p| p.to_string())
        .unwrap_or_else(|_| raw_from.to_string());
    let body = form.get("Body").unwrap_or_default();
    let org = form.number.org_id;
    let contact = crate::inbound::contact::find(&state.db, org, &from).await?;
    let stored = messages::insert(
        &state.db,
        &NewMessage {
            org_id: org,
            contact_id: contact.map(|c| c.id),
            call_id: None,
            phone_number_id: Some(form.number.id),
            direction: "inbound",
            from: &from,
            to: &form.number.number,
            body,
            status: "received",
            provider_message_id: Some(sid),
            at: state.engine.clock().now(),
        },
    )
    .await?;
    // A repeated delivery changes nothing: the keyword was applied the first time.
    if stored.is_some() {
        if let Some(keyword) = optout::keyword(body) {
            optout::apply(&state.db, org, &from, keyword).await?;
            tracing::info!(number_id = %form.number.id, ?keyword, "opt keyword applied");
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>",
    ))
}

/// A text we sent moved on (sent, delivered, undelivered, failed); only forward.
#[utoipa::path(post, path = "/webhooks/twilio/message-status", tag = "webhooks", security(()),
    params(("messageId" = uuid::Uuid, Query, description = "Our message id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub(super) async fn message_status(
    State(state): State<AppState>,
    form: SignedMessageForm,
) -> Result<StatusCode, ApiError> {
    let status = form
        .get("MessageStatus")
        .or_else(|| form.get("SmsStatus"))
        .filter(|s| !s.is_empty() && s.len() <= 40)
        .ok_or_else(|| ApiError::invalid("MessageStatus", "missing"))?;
    let code = form.get("ErrorCode").and_then(|c| c.parse().ok());
    let moved = messages::advance_status(&state.db, form.message_id, status, code).await?;
    tracing::debug!(message_id = %form.message_id, org_id = %form.org_id, status, moved, "message status");
    Ok(StatusCode::NO_CONTENT)
}
