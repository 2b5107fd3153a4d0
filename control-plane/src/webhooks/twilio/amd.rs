//! `POST /webhooks/twilio/amd`: answering-machine detection. A machine applies the
//! campaign's voicemail policy: hang up, or play the assistant's voicemail message (by
//! replacing the call's TwiML) and hang up; the outcome becomes `voicemail`.

use axum::extract::State;
use axum::http::StatusCode;

use super::SignedForm;
use crate::dialer::twilio::twiml;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Twilio async AMD callback (form-encoded, signed).
#[utoipa::path(post, path = "/webhooks/twilio/amd", tag = "webhooks", security(()),
    params(("callId" = uuid::Uuid, Query, description = "Our call id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 204), (status = 403, body = ErrorBody, description = "Not signed by the call's own account, or not about this call")))]
pub(super) async fn amd_callback(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<StatusCode, ApiError> {
    let answered_by = form
        .get("AnsweredBy")
        .ok_or_else(|| ApiError::invalid("AnsweredBy", "missing"))?
        .to_string();
    let machine = answered_by.starts_with("machine") || answered_by == "fax";
    // A machine's call is ended by us (hang up, or the message then hang up): its end
    // reason is `voicemail`, set now so the worker's later `callee_hung_up` (the line
    // dropping when we hang up) does not take its place.
    let call = sqlx::query!(
        r#"update calls set answered_by = $2,
               outcome = case when $3 then coalesce(outcome, 'voicemail') else outcome end,
               end_reason = case when $3 then coalesce(end_reason, 'voicemail') else end_reason end
           where id = $1
           returning
               (select voicemail_action from campaigns where id = calls.campaign_id) as voicemail_action,
               (select definition->>'voicemailMessage' from assistants where id = calls.assistant_id) as voicemail_message"#,
        form.call_id,
        answered_by,
        machine
    )
    .fetch_one(&state.db)
    .await?;
    if !machine {
        return Ok(StatusCode::NO_CONTENT);
    }
    let Some(live) = state.engine.live_call(form.call_id).await? else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let (dialer, account, sid) = (&live.dialer, &live.account, &live.provider_call_id);
    let leave = call.voicemail_action.as_deref() == Some("leave_message");
    let message_ended = answered_by.starts_with("machine_end");
    let result = match call.voicemail_message.filter(|m| !m.trim().is_empty()) {
        Some(message) if leave && message_ended => {
            tracing::info!(call_id = %form.call_id, "voicemail: leaving the message");
            dialer
                .redirect(account, sid, &twiml::say_and_hang_up(&message))
                .await
        }
        // Wait for the beep (machine_end_*) before speaking, or there is nothing to say.
        Some(_) if leave => return Ok(StatusCode::NO_CONTENT),
        _ => {
            tracing::info!(call_id = %form.call_id, "voicemail: hanging up");
            dialer.hang_up(account, sid).await
        }
    };
    if let Err(err) = result {
        tracing::warn!(call_id = %form.call_id, error = %err, "voicemail policy failed");
    }
    Ok(StatusCode::NO_CONTENT)
}
