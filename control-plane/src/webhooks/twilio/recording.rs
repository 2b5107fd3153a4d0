//! `POST /webhooks/twilio/recording`: a recording Twilio made of the call is ready.

use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use super::SignedForm;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Twilio recording status callback (form-encoded, signed).
#[utoipa::path(post, path = "/webhooks/twilio/recording", tag = "webhooks", security(()),
    params(("callId" = uuid::Uuid, Query, description = "Our call id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 204), (status = 403, body = ErrorBody, description = "Not signed by the call's own account, or not about this call")))]
pub(super) async fn recording_callback(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<StatusCode, ApiError> {
    if form
        .get("RecordingStatus")
        .is_some_and(|s| s != "completed")
    {
        return Ok(StatusCode::NO_CONTENT);
    }
    let url = form
        .get("RecordingUrl")
        .ok_or_else(|| ApiError::invalid("RecordingUrl", "missing"))?;
    let duration: Option<f64> = form.get("RecordingDuration").and_then(|d| d.parse().ok());
    let channels: i16 = form
        .get("RecordingChannels")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let inserted = sqlx::query!(
        "insert into recordings (id, call_id, org_id, location, format, channels, duration_sec)
         select $1, id, org_id, $3, 'wav', $4, $5 from calls where id = $2
           and not exists (select 1 from recordings where call_id = $2 and location = $3)",
        Uuid::now_v7(),
        form.call_id,
        format!("{url}.wav"),
        channels,
        duration
    )
    .execute(&state.db)
    .await?;
    if inserted.rows_affected() == 0 {
        tracing::debug!(call_id = %form.call_id, "recording already known or call unknown");
    }
    Ok(StatusCode::NO_CONTENT)
}
