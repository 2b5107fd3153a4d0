//! Twilio's webhooks for calls to our numbers: the voice webhook that answers them, the
//! number's status callback that ends them, and the voicemail `<Record>` callbacks (its
//! action and its transcription). The first two are tied to a number (`?numberId=`), the
//! voicemail ones to the call (`?callId=`), all signed.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use super::number_form::SignedNumberForm;
use super::SignedForm;
use crate::dialer::twilio::parse_status;
use crate::engine::{apply_call_status, StatusUpdate};
use crate::error::{ApiError, ErrorBody};
use crate::inbound::answer::{answer, IncomingCall};
use crate::inbound::twiml;
use crate::state::AppState;

fn xml(body: String) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body)
}

/// A call to one of our numbers (the number's "A call comes in" webhook): answers TwiML.
#[utoipa::path(post, path = "/webhooks/twilio/voice", tag = "webhooks", security(()),
    params(("numberId" = uuid::Uuid, Query, description = "Our number's id (GET /api/v1/numbers/{id} shows the URL)")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/xml", body = String, description = "TwiML"),
        (status = 403, body = ErrorBody, description = "Not signed by the number's account, or not to this number")))]
pub(super) async fn voice_webhook(
    State(state): State<AppState>,
    form: SignedNumberForm,
) -> Result<impl IntoResponse, ApiError> {
    let call_sid = form
        .get("CallSid")
        .ok_or_else(|| ApiError::invalid("CallSid", "missing"))?;
    let from = form.get("From").unwrap_or("anonymous");
    let twiml = answer(&state, &form.number, IncomingCall { call_sid, from }).await?;
    Ok(xml(twiml))
}

/// The number's call status callback: an inbound call moves on (and ends) like a dial.
#[utoipa::path(post, path = "/webhooks/twilio/inbound-status", tag = "webhooks", security(()),
    params(("numberId" = uuid::Uuid, Query, description = "Our number's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub(super) async fn inbound_status(
    State(state): State<AppState>,
    form: SignedNumberForm,
) -> Result<StatusCode, ApiError> {
    let status = form
        .get("CallStatus")
        .and_then(parse_status)
        .ok_or_else(|| ApiError::invalid("CallStatus", "missing or unknown"))?;
    let sid = form
        .get("CallSid")
        .ok_or_else(|| ApiError::invalid("CallSid", "missing"))?;
    // Only a call this number answered: the signature proved the account, this proves the
    // call is one of the number's.
    let Some(call_id) = sqlx::query_scalar!(
        "select id from calls where provider_call_id = $1 and phone_number_id = $2",
        sid,
        form.number.id
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Err(ApiError::NotFound("call"));
    };
    let update = StatusUpdate {
        status,
        at: state.engine.clock().now(),
        provider_call_id: Some(sid.to_string()),
        duration_sec: form.get("CallDuration").and_then(|d| d.parse().ok()),
        answered_by: None,
        sequence: form.get("SequenceNumber").and_then(|s| s.parse().ok()),
    };
    apply_call_status(&state.db, call_id, &update).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `<Record>`'s action: the caller left a voicemail (or hung up on the beep). Ends the call.
#[utoipa::path(post, path = "/webhooks/twilio/voicemail", tag = "webhooks", security(()),
    params(("callId" = uuid::Uuid, Query, description = "Our call id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/xml", body = String, description = "TwiML"),
        (status = 403, body = ErrorBody)))]
pub(super) async fn voicemail_recorded(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<impl IntoResponse, ApiError> {
    let seconds: f64 = form
        .get("RecordingDuration")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0.0);
    if form.get("RecordingUrl").is_some() && seconds > 0.0 {
        sqlx::query!(
            "update calls set outcome = coalesce(outcome, 'voicemail') where id = $1",
            form.call_id
        )
        .execute(&state.db)
        .await?;
    }
    Ok(xml(twiml::hang_up()))
}

/// `<Record transcribe>`'s callback: the voicemail's text becomes the call's transcript.
#[utoipa::path(post, path = "/webhooks/twilio/transcription", tag = "webhooks", security(()),
    params(("callId" = uuid::Uuid, Query, description = "Our call id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub(super) async fn voicemail_transcribed(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<StatusCode, ApiError> {
    if form.get("TranscriptionStatus") != Some("completed") {
        return Ok(StatusCode::NO_CONTENT);
    }
    let text = form
        .get("TranscriptionText")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid("TranscriptionText", "missing"))?;
    // Once per transcription: Twilio may deliver a callback twice.
    sqlx::query!(
        "insert into transcript_entries (call_id, org_id, start_ms, end_ms, speaker, text)
         select id, org_id, 0, 0, 'callee', $2 from calls c where id = $1
           and not exists (select 1 from transcript_entries t where t.call_id = c.id and t.text = $2)",
        form.call_id,
        text
    )
    .execute(&state.db)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
