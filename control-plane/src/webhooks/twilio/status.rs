//! `POST /webhooks/twilio/status`: the call moves through its states. Callbacks may come
//! twice or out of order; the state machine only moves forward, so both are harmless.
//! The callback is checked against the call's own account and Twilio call, and its status
//! applied, in one transaction: one per callback.

use axum::extract::State;
use axum::http::StatusCode;

use super::UnverifiedForm;
use crate::dialer::twilio::parse_status;
use crate::engine::{apply_call_status_in, StatusUpdate};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Twilio call status callback (form-encoded, signed).
#[utoipa::path(post, path = "/webhooks/twilio/status", tag = "webhooks", security(()),
    params(("callId" = uuid::Uuid, Query, description = "Our call id, set when the call was created")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 204), (status = 403, body = ErrorBody, description = "Not signed by the call's own account, or not about this call")))]
pub(super) async fn status_callback(
    State(state): State<AppState>,
    form: UnverifiedForm,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.db.begin().await?;
    let form = form.verify(&mut *tx, &state).await?;
    let status = form
        .get("CallStatus")
        .and_then(parse_status)
        .ok_or_else(|| ApiError::invalid("CallStatus", "missing or unknown"))?;
    let sid = form.get("CallSid").map(str::to_string);
    let update = StatusUpdate {
        status,
        at: state.engine.clock().now(),
        provider_call_id: sid,
        duration_sec: form.get("CallDuration").and_then(|d| d.parse().ok()),
        answered_by: form.get("AnsweredBy").map(str::to_string),
        sequence: form.get("SequenceNumber").and_then(|s| s.parse().ok()),
    };
    apply_call_status_in(&mut tx, form.call_id, &update).await?;
    // Telephony is priced in the same transaction: one per callback, as the engine's
    // transaction budget counts them.
    if let (true, Some(seconds)) = (status.is_terminal(), update.duration_sec) {
        crate::telephony_cost::price_call(
            &mut *tx,
            form.call_id,
            seconds,
            state.settings.twilio.cents_per_minute,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
