//! `POST /webhooks/livekit`: LiveKit's room and participant events move `livekit_sip`
//! calls through their states, and a caller joining an `inbound-` room (one of our
//! numbers' dispatch rules made it) is answered. The request is believed only with a valid signature
//! (`Authorization`: a JWT signed with our API secret whose `sha256` claim is the body's
//! hash; `livekit_api::webhooks` checks both). Events come again and out of order: the
//! call state machine only moves forward, and an end counts only after an answer, so a
//! repeat or a late event changes nothing.
//!
//! The agent leaving a room whose call is still live, with no `ended` from its worker,
//! means the worker died (a crash, SIGKILL, its host gone): the call is failed with end
//! reason `worker_lost` and its room deleted, which hangs up the callee, who would
//! otherwise hear silence until they gave up.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use livekit_api::access_token::TokenVerifier;
use livekit_api::webhooks::WebhookReceiver;
use livekit_protocol as proto;
use secrecy::ExposeSecret;
use shared::CallStatus;
use uuid::Uuid;

use crate::dialer::livekit::{call_of_room, SIP_IDENTITY};
use crate::engine::{apply_call_status, StatusUpdate};
use crate::error::{ApiError, ErrorBody};
use crate::inbound::livekit_answer;
use crate::state::AppState;

/// LiveKit webhook (signed JWT in `Authorization`, protobuf JSON body).
#[utoipa::path(post, path = "/webhooks/livekit", tag = "webhooks", security(()),
    request_body(content = String, content_type = "application/webhook+json"),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub(super) async fn livekit_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<StatusCode, ApiError> {
    let event = verify(&state, &headers, &body)?;
    let Some(room) = event.room.as_ref() else {
        return Ok(StatusCode::NO_CONTENT);
    };
    if livekit_answer::is_inbound_room(&room.name) {
        inbound_event(&state, &event, &room.name).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    // Rooms this control plane did not make (or other projects' tests) are not ours.
    let Some(call_id) = call_of_room(&room.name) else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let agent_left = matches!(
        event.event.as_str(),
        "participant_left" | "participant_connection_aborted"
    ) && event
        .participant
        .as_ref()
        .is_some_and(|p| p.kind == proto::participant_info::Kind::Agent as i32);
    if agent_left {
        worker_lost(&state, call_id, &room.name).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let callee = event
        .participant
        .as_ref()
        .filter(|p| p.identity == SIP_IDENTITY);
    let status = match (event.event.as_str(), callee) {
        ("participant_joined", Some(participant)) => {
            let answered = participant
                .attributes
                .get("sip.callStatus")
                .is_some_and(|s| s == "active");
            Some(if answered {
                CallStatus::InProgress
            } else {
                CallStatus::Ringing
            })
        }
        ("participant_left" | "participant_connection_aborted", Some(_)) | ("room_finished", _) => {
            Some(CallStatus::Completed)
        }
        _ => None,
    };
    if let Some(status) = status {
        apply(&state, call_id, &room.name, status).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The agent left the room of an answered call that is still in progress and whose
/// worker never reported its end: the worker is gone. A worker that ends a call reports
/// `ended` (and waits for it to be stored) before it deletes the room and leaves, so a
/// normal end never gets here; neither does an operator's hang-up, which names its reason
/// before deleting the room.
async fn worker_lost(state: &AppState, call_id: Uuid, room: &str) -> Result<(), ApiError> {
    let now = state.engine.clock().now();
    let lost = sqlx::query_scalar!(
        "update calls set end_reason = 'worker_lost'
         where id = $1 and mode = 'livekit_sip' and status = 'in_progress'
           and answered_at is not null and end_reason is null
         returning answered_at",
        call_id
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(answered_at) = lost.flatten() else {
        return Ok(());
    };
    tracing::warn!(%call_id, room, "the agent left a live LiveKit call: worker_lost");
    let update = StatusUpdate {
        status: CallStatus::Failed,
        at: now,
        provider_call_id: None,
        duration_sec: Some((now - answered_at).num_seconds().max(0) as i32),
        answered_by: None,
        sequence: None,
    };
    apply_call_status(&state.db, call_id, &update).await?;
    // Deleting the room hangs up the SIP leg.
    match state.engine.live_call(call_id).await? {
        Some(live) => {
            if let Err(error) = live
                .dialer
                .hang_up(&live.account, &live.provider_call_id)
                .await
            {
                tracing::warn!(%call_id, %error, "could not delete the room of a lost worker's call");
            }
        }
        None => tracing::warn!(%call_id, "no dialer to delete the room of a lost worker's call"),
    }
    Ok(())
}

/// An event of a caller's room (one of our numbers' dispatch rules made it): the caller
/// joining is answered (`inbound::livekit_answer`), the caller leaving or the room closing
/// ends the call.
async fn inbound_event(
    state: &AppState,
    event: &proto::WebhookEvent,
    room: &str,
) -> Result<(), ApiError> {
    let caller = event
        .participant
        .as_ref()
        .filter(|p| livekit_answer::is_caller(p));
    match (event.event.as_str(), caller) {
        ("participant_joined", Some(caller)) => {
            livekit_answer::caller_joined(state, room, caller).await
        }
        ("participant_left" | "participant_connection_aborted", Some(_)) | ("room_finished", _) => {
            match livekit_answer::call_in_room(&state.db, room).await? {
                Some(call_id) => apply(state, call_id, room, CallStatus::Completed).await,
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The event, if its signature holds for our API key.
fn verify(
    state: &AppState,
    headers: &HeaderMap,
    body: &str,
) -> Result<proto::WebhookEvent, ApiError> {
    let livekit = &state.settings.livekit;
    let (Some(key), Some(secret)) = (&livekit.api_key, &livekit.api_secret) else {
        tracing::warn!("a LiveKit webhook arrived, but no LiveKit key is configured");
        return Err(ApiError::Unauthorized);
    };
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::Unauthorized)?;
    // LiveKit sends the bare JWT; accept a `Bearer ` prefix as other senders write it.
    let token = token.strip_prefix("Bearer ").unwrap_or(token);
    let receiver = WebhookReceiver::new(TokenVerifier::with_api_key(key, secret.expose_secret()));
    receiver.receive(body, token).map_err(|err| {
        tracing::warn!(error = %err, "refused a LiveKit webhook");
        ApiError::Unauthorized
    })
}

/// Moves the call to `status`. An end (`completed`) counts only for a call that was
/// answered: before the answer, the dial's own result (busy, no answer, ...) decides.
async fn apply(
    state: &AppState,
    call_id: Uuid,
    room: &str,
    status: CallStatus,
) -> Result<(), ApiError> {
    let now = state.engine.clock().now();
    let Some(answered_at) = sqlx::query_scalar!(
        "select answered_at from calls where id = $1 and mode = 'livekit_sip'",
        call_id
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Ok(());
    };
    if status == CallStatus::Completed && answered_at.is_none() {
        return Ok(());
    }
    let answered = matches!(status, CallStatus::InProgress | CallStatus::Completed);
    let update = StatusUpdate {
        status,
        at: now,
        // The room is the call's provider id once the callee answered (hang-up and
        // transfer act on it).
        provider_call_id: answered.then(|| room.to_string()),
        duration_sec: answered_at
            .filter(|_| status == CallStatus::Completed)
            .map(|at| (now - at).num_seconds().max(0) as i32),
        answered_by: None,
        sequence: None,
    };
    apply_call_status(&state.db, call_id, &update).await?;
    Ok(())
}
