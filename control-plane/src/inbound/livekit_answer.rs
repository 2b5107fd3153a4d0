//! Answering a call that reached one of our numbers through LiveKit SIP. The number's
//! dispatch rule (`livekit.rs`) puts each caller alone in an `inbound-...` room; LiveKit's
//! `participant_joined` webhook for that SIP participant is our cue. Its attributes name
//! the inbound trunk (hence the number) and the caller.
//!
//! Inside business hours with an assistant, the call becomes a call record like any
//! other (direction `inbound`, mode `livekit_sip`, the room as its provider id) and the
//! agent is dispatched into the room with the same metadata a dial's job carries
//! (`{callId, token, controlPlaneUrl}`): the worker cannot tell the two apart. The
//! dispatch is ours, not the rule's, because only a call record gives the job a call id
//! and a token. A worker that has not taken the job within `livekit.worker_wait_sec`
//! means no worker is free: the call ends `no_worker`. Outside business hours the call is
//! recorded `after_hours`. Either way the caller is hung up on (the room deleted): the
//! message and the voicemail Twilio callers get are Twilio's `<Say>` and `<Record>`, and a
//! LiveKit room without a worker has nobody to speak.
//!
//! LiveKit sends webhooks again and out of order: the room's unique name keeps a repeat
//! from making a second call, and the call's end follows the state machine (forward only).

use std::time::Duration;

use livekit_api::services::agent_dispatch::AgentDispatchClient;
use livekit_api::services::room::RoomClient;
use livekit_protocol as proto;
use secrecy::ExposeSecret;
use shared::CallStatus;
use sqlx::PgPool;
use uuid::Uuid;

use super::{answer, contact};
use crate::db::numbers::NumberRow;
use crate::dialer::livekit::dispatch_metadata;
use crate::engine::{apply_call_status, StatusUpdate};
use crate::error::ApiError;
use crate::provisioning::livekit::http_url;
use crate::state::AppState;

/// The room prefix the numbers' dispatch rules give callers' rooms.
pub const ROOM_PREFIX: &str = "inbound-";

/// The inbound trunk the call came in on (livekit-sip's attribute on its participant).
const TRUNK_ID: &str = "sip.trunkID";
/// The caller's number, as the carrier sent it.
const CALLER: &str = "sip.phoneNumber";

/// How often the dispatch is checked for a worker that took it.
const WORKER_POLL: Duration = Duration::from_millis(100);

/// Whether `room` is a caller's room made by one of our numbers' dispatch rules.
pub fn is_inbound_room(room: &str) -> bool {
    room.starts_with(ROOM_PREFIX)
}

/// Whether the participant is the SIP caller (livekit-sip's participant, not the agent).
pub fn is_caller(participant: &proto::ParticipantInfo) -> bool {
    participant.kind == proto::participant_info::Kind::Sip as i32
}

/// The call that answered `room`, if one did.
pub async fn call_in_room(db: &PgPool, room: &str) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "select id from calls where room_name = $1 and direction = 'inbound'",
        room
    )
    .fetch_optional(db)
    .await
}

/// The number whose LiveKit inbound trunk is `trunk`.
async fn number_of_trunk(db: &PgPool, trunk: &str) -> sqlx::Result<Option<NumberRow>> {
    sqlx::query_as!(
        NumberRow,
        "select * from phone_numbers where livekit_inbound_trunk_id = $1",
        trunk
    )
    .fetch_optional(db)
    .await
}

/// The caller joined `room`: records the call and dispatches the agent, or hangs up.
pub async fn caller_joined(
    state: &AppState,
    room: &str,
    caller: &proto::ParticipantInfo,
) -> Result<(), ApiError> {
    let Some(trunk) = caller.attributes.get(TRUNK_ID) else {
        tracing::warn!(room, "a caller joined an inbound room without sip.trunkID");
        return Ok(());
    };
    let Some(number) = number_of_trunk(&state.db, trunk).await? else {
        // A trunk of a number deleted meanwhile, or not ours: nobody answers.
        tracing::warn!(room, trunk, "a LiveKit call for no number of ours");
        hang_up(state, room).await;
        return Ok(());
    };
    let from = caller
        .attributes
        .get(CALLER)
        .map(String::as_str)
        .filter(|f| !f.is_empty())
        .unwrap_or("anonymous");
    let now = state.engine.clock().now();
    let (found, variables) = contact::of_caller(&state.db, number.org_id, from).await?;
    let assistant = answer::open_assistant(&number, now);
    let version = match assistant {
        Some(a) => sqlx::query!(
            "select current_version, coalesce((definition->>'maxDurationSec')::int, 600) as \"max_duration_sec!\"
             from assistants where id = $1 and org_id = $2",
            a,
            number.org_id
        )
        .fetch_optional(&state.db)
        .await?
        .map(|r| (r.current_version, r.max_duration_sec)),
        None => None,
    };
    let (action, end_reason) = match version {
        Some(_) => ("assistant", None),
        None => ("hang_up", Some("after_hours")),
    };
    let call_id = Uuid::now_v7();
    let inserted = sqlx::query_scalar!(
        "insert into calls (id, org_id, contact_id, assistant_id, assistant_version, trunk_id,
                            mode, to_phone, from_phone, status, provider_call_id, room_name,
                            variables, started_at, answered_at, end_reason, direction,
                            phone_number_id, inbound_action, created_at, heard_at)
         values ($1, $2, $3, $4, $5, $6, 'livekit_sip', $7, $8, 'in_progress', $9, $9, $10,
                 $11, $11, $12, 'inbound', $13, $14, $11, $11)
         on conflict (room_name) where room_name is not null do nothing
         returning id",
        call_id,
        number.org_id,
        found.as_ref().map(|c| c.id),
        version.and(assistant),
        version.map(|v| v.0),
        number.trunk_id,
        number.number,
        from,
        room,
        variables,
        now,
        end_reason,
        number.id,
        action
    )
    .fetch_optional(&state.db)
    .await?;
    if inserted.is_none() {
        return Ok(()); // A repeated webhook: the first one answered.
    }
    tracing::info!(%call_id, number_id = %number.id, room, action, "inbound LiveKit call");
    let Some((_, max_duration_sec)) = version else {
        hang_up(state, room).await;
        end(state, call_id, room).await?;
        return Ok(());
    };
    let token = state
        .engine
        .mint_call_token(call_id, number.org_id, now, max_duration_sec);
    if let Err(err) = dispatch(state, room, call_id, &token).await {
        tracing::error!(%call_id, room, "could not dispatch the agent: {err}");
        no_worker(state, call_id, room).await?;
        return Ok(());
    }
    // The webhook returns now; the wait for a worker goes on beside it.
    let state = state.clone();
    let room = room.to_string();
    tokio::spawn(async move {
        if let Err(err) = await_worker(&state, call_id, &room).await {
            tracing::error!(%call_id, "watching the inbound call's dispatch: {err}");
        }
    });
    Ok(())
}

/// Dispatches the agent into the caller's room with the call's id and token.
async fn dispatch(state: &AppState, room: &str, call_id: Uuid, token: &str) -> Result<(), String> {
    let livekit = &state.settings.livekit;
    let (Some(url), Some(key), Some(secret)) =
        (&livekit.url, &livekit.api_key, &livekit.api_secret)
    else {
        return Err("no LiveKit project is configured".into());
    };
    let control_plane_url = livekit
        .control_plane_url
        .clone()
        .unwrap_or_else(|| state.settings.server.public_url.clone());
    AgentDispatchClient::with_api_key(&http_url(url), key, secret.expose_secret())
        .with_request_timeout(Duration::from_secs(livekit.request_timeout_sec))
        .create_dispatch(proto::CreateAgentDispatchRequest {
            agent_name: livekit.agent_name.clone(),
            room: room.to_string(),
            metadata: dispatch_metadata(call_id, token, &control_plane_url),
            ..Default::default()
        })
        .await
        .map(|_| ())
        .map_err(|err| err.to_string())
}

/// Waits for the worker to take the call (it reports `connected`); none within
/// `livekit.worker_wait_sec` ends the call `no_worker`.
async fn await_worker(state: &AppState, call_id: Uuid, room: &str) -> Result<(), ApiError> {
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(state.settings.livekit.worker_wait_sec);
    loop {
        let taken = sqlx::query_scalar!(
            r#"select worker_id is not null or ended_at is not null as "taken!"
               from calls where id = $1"#,
            call_id
        )
        .fetch_one(&state.db)
        .await?;
        if taken {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return no_worker(state, call_id, room).await;
        }
        tokio::time::sleep(WORKER_POLL).await;
    }
}

/// No worker took the call: it is recorded `no_worker` and the caller hung up on.
async fn no_worker(state: &AppState, call_id: Uuid, room: &str) -> Result<(), ApiError> {
    tracing::warn!(%call_id, room, "no agent worker took the inbound call");
    sqlx::query!(
        "update calls set end_reason = coalesce(end_reason, 'no_worker'), inbound_action = 'hang_up'
         where id = $1 and worker_id is null",
        call_id
    )
    .execute(&state.db)
    .await?;
    hang_up(state, room).await;
    end(state, call_id, room).await
}

/// Ends the call now (the webhooks of the room's end then change nothing).
async fn end(state: &AppState, call_id: Uuid, room: &str) -> Result<(), ApiError> {
    let now = state.engine.clock().now();
    let answered_at = sqlx::query_scalar!("select answered_at from calls where id = $1", call_id)
        .fetch_one(&state.db)
        .await?;
    let update = StatusUpdate {
        status: CallStatus::Completed,
        at: now,
        provider_call_id: Some(room.to_string()),
        duration_sec: answered_at.map(|at| (now - at).num_seconds().max(0) as i32),
        answered_by: None,
        sequence: None,
    };
    apply_call_status(&state.db, call_id, &update).await?;
    Ok(())
}

/// Deletes the caller's room, which has livekit-sip send the caller a BYE. Logged, not
/// returned: the call's record is what matters, and an empty room closes by itself.
async fn hang_up(state: &AppState, room: &str) {
    let livekit = &state.settings.livekit;
    let (Some(url), Some(key), Some(secret)) =
        (&livekit.url, &livekit.api_key, &livekit.api_secret)
    else {
        return;
    };
    let rooms = RoomClient::with_api_key(&http_url(url), key, secret.expose_secret())
        .with_request_timeout(Duration::from_secs(livekit.request_timeout_sec));
    if let Err(err) = rooms.delete_room(room).await {
        tracing::warn!(room, "could not delete an inbound call's room: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_rules_rooms_and_sip_participants_count() {
        assert!(is_inbound_room("inbound-_+12125550100_abcd"));
        assert!(!is_inbound_room("call-0190"));
        let mut participant = proto::ParticipantInfo {
            kind: proto::participant_info::Kind::Sip as i32,
            ..Default::default()
        };
        assert!(is_caller(&participant));
        participant.kind = proto::participant_info::Kind::Agent as i32;
        assert!(!is_caller(&participant));
    }
}
