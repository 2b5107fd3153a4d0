//! One LiveKit job. The dispatch's metadata names the call (`{callId, token,
//! controlPlaneUrl}`); the job checks the call's token, fetches the call's job from the
//! control plane, joins the room with the assignment's token (subscribed and publishing
//! before anyone dials, so no word of the callee is lost), and reports `connected`: the
//! control plane's cue to dial. It then waits for the SIP participant's `sip.callStatus`
//! to turn `active` (the agent never speaks to a ringing phone) and runs the same
//! conversation as a Twilio call over the room's transport. Once the conversation ends
//! it deletes the room, which hangs up the SIP leg, and leaves.
//!
//! A call that ends before the answer (busy, no answer, the room deleted, LiveKit
//! terminating the job, the maximum duration) is reported `ended` by the job itself.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use livekit_api::services::room::RoomClient;
use livekit_protocol::{self as proto};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shared::events::EventKind;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::room::{CalleeState, JoinOptions, Room, RoomError};
use super::slots::JobSlot;
use super::{lock, wire, Agent};
use crate::calls;
use crate::control::{ControlError, EventReporter, ReporterConfig};

/// How long the last events may take to reach the control plane.
const FINISH_WAIT: Duration = Duration::from_secs(10);
/// How long the first message waits after the answer for a subscriber to the agent's
/// track (livekit-sip subscribes after it reports the answer; typically tens of ms).
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(1);

/// What the control plane puts in the dispatch's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchMetadata {
    pub call_id: Uuid,
    /// The call's token (the same one a Twilio stream carries).
    pub token: String,
    /// Informational: the worker talks to its configured control plane.
    #[serde(default)]
    pub control_plane_url: Option<String>,
}

/// How to join the job's room: the assignment's token, and its URL if it names one.
#[derive(Debug, Clone)]
pub(super) struct RoomAccess {
    pub(super) url: Option<String>,
    pub(super) token: String,
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the dispatch metadata is not {{callId, token}}: {0}")]
    Metadata(#[from] serde_json::Error),
    #[error("the call token is invalid: {0}")]
    Token(String),
    #[error("fetching the call's job: {0}")]
    Fetch(#[from] ControlError),
    #[error("joining the room: {0}")]
    Room(#[from] RoomError),
}

/// Why a held job ended (the call's `end_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The room is gone (deleted to hang up, or closed).
    RoomGone,
    /// LiveKit terminated the job (its dispatch was deleted, say).
    Terminated,
    /// The call's maximum duration passed.
    MaxDuration,
    /// The callee left the room before answering.
    CalleeLeft,
    /// The conversation ran and ended (its own `ended` event says why).
    Conversation,
}

impl End {
    fn reason(self) -> &'static str {
        match self {
            End::RoomGone => "room_finished",
            End::Terminated => "job_terminated",
            End::MaxDuration => "max_duration",
            End::CalleeLeft => "callee_hung_up",
            End::Conversation => "conversation_ended",
        }
    }
}

/// Runs an assigned job to its end, holding `slot` meanwhile.
pub(super) async fn run(
    agent: Arc<Agent>,
    job: proto::Job,
    access: RoomAccess,
    slot: JobSlot,
    cancel: CancellationToken,
) {
    let room = job
        .room
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let span = tracing::info_span!("livekit_job", job_id = %job.id, %room,
        call_id = tracing::field::Empty, org_id = tracing::field::Empty,
        campaign_id = tracing::field::Empty);
    async {
        agent
            .job_update(wire::job_status(&job.id, proto::JobStatus::JsRunning, ""))
            .await;
        let update = match hold(&agent, &job, &access, &cancel).await {
            Ok(end) => {
                tracing::info!(reason = end.reason(), "LiveKit job ended");
                agent.succeeded.fetch_add(1, Ordering::AcqRel);
                wire::job_status(&job.id, proto::JobStatus::JsSuccess, "")
            }
            Err(error) => {
                tracing::warn!(%error, "LiveKit job failed");
                agent.failed.fetch_add(1, Ordering::AcqRel);
                wire::job_status(&job.id, proto::JobStatus::JsFailed, &error.to_string())
            }
        };
        agent.job_update(update).await;
    }
    .instrument(span)
    .await;
    lock(&agent.jobs).remove(&job.id);
    // The status went out first, so a drained connection has nothing left to send.
    drop(slot);
    agent.changed.notify_one();
}

/// Admits the call, joins its room and holds it until it ends.
async fn hold(
    agent: &Agent,
    job: &proto::Job,
    access: &RoomAccess,
    cancel: &CancellationToken,
) -> Result<End, JobError> {
    let worker = &agent.worker;
    let metadata: DispatchMetadata = serde_json::from_str(&job.metadata)?;
    let span = tracing::Span::current();
    span.record("call_id", tracing::field::display(metadata.call_id));
    worker
        .tokens
        .verify_for(
            &metadata.token,
            metadata.call_id,
            chrono::Utc::now().timestamp(),
        )
        .map_err(|e| JobError::Token(e.to_string()))?;
    if let Some(url) = &metadata.control_plane_url {
        if url.trim_end_matches('/') != worker.control.base_url() {
            tracing::warn!(dispatched = %url, configured = %worker.control.base_url(),
                "the dispatch names another control plane; using the configured one");
        }
    }
    let token = SecretString::from(metadata.token);
    let call = worker.control.fetch_job(metadata.call_id, &token).await?;
    span.record("org_id", tracing::field::display(call.org_id));
    if let Some(campaign) = call.campaign_id {
        span.record("campaign_id", tracing::field::display(campaign));
    }
    // Joined, subscribed and publishing before `connected` lets the control plane dial.
    let url = access.url.as_deref().unwrap_or(&agent.http_url);
    let joining = Instant::now();
    let options = JoinOptions {
        pause_in_silence: worker.config.livekit.pause_in_silence,
    };
    let mut room = Room::join_with(url, &access.token, options).await?;
    tracing::info!(took = ?joining.elapsed(), "joined the LiveKit room");
    let started = Instant::now();
    let reporter = EventReporter::for_job(
        worker.control.clone(),
        &call,
        token,
        ReporterConfig::default(),
    );
    let connected = EventKind::Connected {
        worker_id: worker.worker_id.clone(),
    };
    if reporter.report(connected).await.is_err() {
        tracing::warn!("the event reporter stopped; connected was not sent");
    }
    let max = Duration::from_secs(
        u64::try_from(call.limits.max_duration_sec)
            .unwrap_or(0)
            .max(1),
    );
    let room_name = job
        .room
        .as_ref()
        .map(|r| r.name.as_str())
        .unwrap_or_default();
    let mut callee = room.callee();
    let answered = tokio::select! {
        _ = cancel.cancelled() => Err(End::Terminated),
        _ = room.ended() => Err(End::RoomGone),
        _ = room_gone(agent, room_name) => Err(End::RoomGone),
        _ = tokio::time::sleep(max) => Err(End::MaxDuration),
        state = callee.wait_for(|s| s.is_active() || *s == CalleeState::Left) => match state {
            Ok(state) if state.is_active() => Ok(()),
            Ok(_) => Err(End::CalleeLeft),
            // The room task ended (the room is gone) and dropped its side of the watch.
            Err(_) => Err(End::RoomGone),
        },
    };
    if let Err(end) = answered {
        let ended = EventKind::Ended {
            reason: end.reason().to_string(),
        };
        let at_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        if reporter.report_at(ended, at_ms).await.is_err() {
            tracing::warn!("the event reporter stopped; ended was not sent");
        }
        if !reporter.finish(FINISH_WAIT).await {
            tracing::warn!("not every event reached the control plane");
        }
        room.leave().await;
        return Ok(end);
    }
    // livekit-sip sets `active` and only then connects the call's media and subscribes
    // to the room's tracks: a first message started at `active` lost its first words
    // whenever that subscription took longer than the words (the LiveKit room tests
    // failed about one run in three, the phone decoding nothing of it). So it waits until
    // the server says a subscriber is bound to the agent's track, at most SUBSCRIBE_WAIT
    // (a server without the event, or a subscriber that never comes).
    let mut subscribed = room.track_subscribed();
    let waiting = Instant::now();
    let bound = tokio::time::timeout(SUBSCRIBE_WAIT, async {
        subscribed.wait_for(|on| *on).await.is_ok()
    })
    .await
    .unwrap_or(false);
    tracing::info!(bound, waited = ?waiting.elapsed(), "the callee answered; the conversation starts");
    let Some(mut transport) = room.take_transport() else {
        room.leave().await;
        return Ok(End::Conversation);
    };
    let reason = calls::run_session(
        worker.clone(),
        call,
        calls::reporter_events(reporter),
        &mut transport,
    )
    .await;
    tracing::info!(reason, "the LiveKit call's conversation ended");
    // Deleting the room hangs up the SIP leg (as the control plane's hang-up does).
    delete_room(agent, room_name).await;
    room.leave().await;
    Ok(End::Conversation)
}

/// Deletes the call's room; a room already gone is fine.
async fn delete_room(agent: &Agent, room: &str) {
    if room.is_empty() {
        return;
    }
    let rooms = RoomClient::with_api_key(
        &agent.http_url,
        &agent.api_key,
        agent.api_secret.expose_secret(),
    );
    if let Err(error) = rooms.delete_room(room).await {
        tracing::debug!(%error, "could not delete the call's room");
    }
}

/// Returns once `room` no longer exists (deleted to hang up, or closed), as the room
/// service sees it: a second witness beside the room's own `leave`, for a signalling
/// connection that dies silently before the answer.
async fn room_gone(agent: &Agent, room: &str) {
    if room.is_empty() {
        return std::future::pending().await;
    }
    let rooms = RoomClient::with_api_key(
        &agent.http_url,
        &agent.api_key,
        agent.api_secret.expose_secret(),
    );
    loop {
        tokio::time::sleep(agent.room_check).await;
        match rooms.list_rooms(vec![room.to_string()]).await {
            Ok(found) if found.iter().all(|r| r.name != room) => return,
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "could not check the job's room"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_metadata_reads_the_control_planes_fields() {
        let call = Uuid::now_v7();
        let json =
            format!(r#"{{"callId":"{call}","token":"t","controlPlaneUrl":"http://cp:8080"}}"#);
        let metadata: DispatchMetadata = serde_json::from_str(&json).unwrap();
        assert_eq!(metadata.call_id, call);
        assert_eq!(metadata.token, "t");
        assert_eq!(
            metadata.control_plane_url.as_deref(),
            Some("http://cp:8080")
        );
        assert!(serde_json::from_str::<DispatchMetadata>(r#"{"token":"t"}"#).is_err());
    }
}
