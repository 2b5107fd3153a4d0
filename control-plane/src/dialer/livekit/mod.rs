//! LiveKit SIP mode: a call is a LiveKit room. The dialer creates the room, dispatches
//! the agent worker to it (the dispatch metadata names the call: `{callId, token,
//! controlPlaneUrl}`), waits until the worker has taken the job (it reports `connected`
//! to the control plane once it fetched the call), and only then has LiveKit dial the
//! callee through the trunk's LiveKit outbound trunk, waiting for the answer. The callee's
//! SIP answer decides the attempt (`errors.rs`); LiveKit's webhooks follow the call after.
//!
//! Names are derived from the call id (room `call-<id>`, SIP participant `callee`), so
//! reconciliation after a crash finds the room without anything stored.

mod errors;

use std::time::Duration;

use async_trait::async_trait;
use livekit_api::services::agent_dispatch::AgentDispatchClient;
use livekit_api::services::room::{CreateRoomOptions, RoomClient};
use livekit_api::services::sip::{
    CreateSIPParticipantOptions, SIPClient, TransferSIPParticipantOptions,
};
use livekit_protocol as proto;
use secrecy::ExposeSecret;
use shared::{AttemptResult, CallStatus};
use sqlx::PgPool;
use uuid::Uuid;

use super::{DialError, DialRequest, Dialer, Placed, ProviderAccount, ProviderCall, Unrecorded};
use crate::config::{LiveKitSettings, ServerSettings};
use crate::provisioning::livekit::http_url;

/// The SIP participant's identity in every call's room.
pub const SIP_IDENTITY: &str = "callee";

/// How often the dial looks whether the worker has taken the job.
const WORKER_POLL: Duration = Duration::from_millis(100);

/// The room of a call.
pub fn room_name(call_id: Uuid) -> String {
    format!("call-{call_id}")
}

/// The call a room belongs to (`None` for rooms this control plane did not make).
pub fn call_of_room(room: &str) -> Option<Uuid> {
    room.strip_prefix("call-")?.parse().ok()
}

/// The `Dialer` for `livekit_sip` trunks.
#[derive(Debug)]
pub struct LiveKitSipDialer {
    rooms: RoomClient,
    dispatch: AgentDispatchClient,
    sip: SIPClient,
    /// Where the dial looks for the worker's `connected` (whichever replica received it).
    db: PgPool,
    agent_name: String,
    control_plane_url: String,
    worker_wait: Duration,
}

impl LiveKitSipDialer {
    /// `None` when no LiveKit project is configured (`livekit.url` unset).
    pub fn from_settings(
        livekit: &LiveKitSettings,
        server: &ServerSettings,
        db: PgPool,
    ) -> Option<Self> {
        let url = http_url(livekit.url.as_deref().filter(|u| !u.trim().is_empty())?);
        let key = livekit.api_key.as_deref()?;
        let secret = livekit.api_secret.as_ref()?.expose_secret();
        let timeout = Duration::from_secs(livekit.request_timeout_sec);
        Some(Self {
            rooms: RoomClient::with_api_key(&url, key, secret).with_request_timeout(timeout),
            dispatch: AgentDispatchClient::with_api_key(&url, key, secret)
                .with_request_timeout(timeout),
            // A dial that waits for the answer gets its own timeout (ring time on top).
            sip: SIPClient::with_api_key(&url, key, secret).with_request_timeout(timeout),
            db,
            agent_name: livekit.agent_name.clone(),
            control_plane_url: livekit
                .control_plane_url
                .clone()
                .unwrap_or_else(|| server.public_url.clone()),
            worker_wait: Duration::from_secs(livekit.worker_wait_sec),
        })
    }

    /// Waits until the call's worker reported `connected` (it fetched the job).
    async fn worker_joined(&self, call_id: Uuid) -> Result<bool, DialError> {
        let deadline = tokio::time::Instant::now() + self.worker_wait;
        loop {
            let joined = sqlx::query_scalar!(
                r#"select worker_id is not null as "joined!" from calls where id = $1"#,
                call_id
            )
            .fetch_optional(&self.db)
            .await
            .map_err(|err| DialError::NotSent(format!("reading the call: {err}")))?;
            if joined == Some(true) {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(WORKER_POLL).await;
        }
    }

    /// Removes a call's room (which ends the worker's job); a room already gone is fine.
    async fn delete_room(&self, room: &str) -> Result<(), DialError> {
        match self.rooms.delete_room(room).await {
            Ok(()) => Ok(()),
            Err(err) if errors::is_not_found(&err) => Ok(()),
            Err(err) => Err(errors::dial_error(err, false)),
        }
    }

    /// Deletes the room after a dial that ended before the call was answered: logged, not
    /// returned, as the dial's own error is what the engine must see.
    async fn clean_up(&self, room: &str) {
        if let Err(err) = self.delete_room(room).await {
            tracing::warn!(room, error = %err, "could not delete the room of a failed dial");
        }
    }

    async fn place(&self, request: &DialRequest, room: &str) -> Result<Placed, DialError> {
        let trunk = request.livekit_trunk_id.clone().ok_or_else(|| {
            DialError::Refused(
                "the trunk is not registered at LiveKit (no livekit_trunk_id)".into(),
            )
        })?;
        self.rooms
            .create_room(
                room,
                CreateRoomOptions {
                    // Long enough for the worker and the ringing; then LiveKit closes it.
                    empty_timeout: (self.worker_wait.as_secs() + 60) as u32,
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| errors::dial_error(err, false))?;
        // The room is the call's place at LiveKit from now on: operators see it at once.
        sqlx::query!(
            "update calls set room_name = $2 where id = $1",
            request.call_id,
            room
        )
        .execute(&self.db)
        .await
        .map_err(|err| DialError::NotSent(format!("recording the room: {err}")))?;
        let metadata = dispatch_metadata(request.call_id, &request.token, &self.control_plane_url);
        self.dispatch
            .create_dispatch(proto::CreateAgentDispatchRequest {
                agent_name: self.agent_name.clone(),
                room: room.to_string(),
                metadata,
                ..Default::default()
            })
            .await
            .map_err(|err| errors::dial_error(err, false))?;
        if !self.worker_joined(request.call_id).await? {
            return Err(DialError::Ended {
                result: AttemptResult::NoWorker,
                detail: format!(
                    "no agent worker named {} took the job within {} s",
                    self.agent_name,
                    self.worker_wait.as_secs()
                ),
            });
        }
        let ringing = Duration::from_secs(u64::from(request.ring_timeout_sec));
        let options = CreateSIPParticipantOptions {
            participant_identity: SIP_IDENTITY.to_string(),
            participant_name: Some("Callee".into()),
            sip_number: Some(request.from.clone()).filter(|n| !n.is_empty()),
            wait_until_answered: Some(true),
            ringing_timeout: Some(ringing),
            max_call_duration: Some(Duration::from_secs(u64::from(request.time_limit_sec))),
            ..Default::default()
        };
        self.sip
            .create_sip_participant(
                trunk,
                request.to.to_string(),
                room.to_string(),
                options,
                None,
            )
            .await
            .map_err(|err| errors::dial_error(err, true))?;
        Ok(Placed {
            provider_call_id: room.to_string(),
        })
    }

    /// LiveKit's view of a call's room: `None` when the room is gone.
    async fn callee_in(&self, room: &str) -> Result<Option<Option<String>>, DialError> {
        match self.rooms.list_participants(room).await {
            Ok(participants) => Ok(Some(
                participants
                    .into_iter()
                    .find(|p| p.identity == SIP_IDENTITY)
                    .map(|p| {
                        p.attributes
                            .get("sip.callStatus")
                            .cloned()
                            .unwrap_or_default()
                    }),
            )),
            Err(err) if errors::is_not_found(&err) => Ok(None),
            Err(err) => Err(errors::dial_error(err, false)),
        }
    }
}

/// What the worker gets with the job: the call, its token and where to report. Nothing
/// else: LiveKit keeps dispatch metadata, so no contact data goes there.
pub(crate) fn dispatch_metadata(call_id: Uuid, token: &str, control_plane_url: &str) -> String {
    serde_json::json!({
        "callId": call_id,
        "token": token,
        "controlPlaneUrl": control_plane_url,
    })
    .to_string()
}

/// A SIP participant's `sip.callStatus` as our call status.
fn status_of(sip_call_status: &str) -> CallStatus {
    match sip_call_status {
        "active" | "automation" => CallStatus::InProgress,
        "hangup" => CallStatus::Completed,
        _ => CallStatus::Ringing,
    }
}

#[async_trait]
impl Dialer for LiveKitSipDialer {
    async fn dial(&self, request: &DialRequest) -> Result<Placed, DialError> {
        let room = room_name(request.call_id);
        let placed = self.place(request, &room).await;
        if let Err(err) = &placed {
            // An unknown outcome leaves the room to reconciliation: the call may be live.
            if !matches!(err, DialError::Unknown(_)) {
                self.clean_up(&room).await;
            }
        }
        placed
    }

    fn waits_for_answer(&self) -> bool {
        true
    }

    fn needs_account(&self) -> bool {
        false
    }

    async fn hang_up(&self, _: &ProviderAccount, room: &str) -> Result<(), DialError> {
        // LiveKit's own outbound examples hang up by deleting the room: the SIP
        // participant gets a BYE and the worker's job ends.
        self.delete_room(room).await
    }

    async fn transfer(&self, _: &ProviderAccount, room: &str, to: &str) -> Result<(), DialError> {
        self.sip
            .transfer_sip_participant(
                room.to_string(),
                SIP_IDENTITY.to_string(),
                format!("tel:{to}"),
                TransferSIPParticipantOptions::default(),
            )
            .await
            .map_err(|err| errors::dial_error(err, false))
    }

    async fn redirect(&self, _: &ProviderAccount, _: &str, _: &str) -> Result<(), DialError> {
        Err(DialError::Refused(
            "LiveKit calls take no TwiML: the agent acts in the room".into(),
        ))
    }

    async fn fetch(
        &self,
        _: &ProviderAccount,
        room: &str,
    ) -> Result<Option<ProviderCall>, DialError> {
        // The id is stored once the callee answered: a room gone, or without its callee,
        // is a call that ended after the answer.
        let status = match self.callee_in(room).await? {
            Some(Some(sip_status)) => status_of(&sip_status),
            Some(None) | None => CallStatus::Completed,
        };
        Ok(Some(ProviderCall {
            provider_call_id: room.to_string(),
            status,
            duration_sec: None,
        }))
    }

    async fn find_unrecorded(
        &self,
        _: &ProviderAccount,
        call: &Unrecorded<'_>,
    ) -> Result<Option<ProviderCall>, DialError> {
        let room = room_name(call.call_id);
        match self.callee_in(&room).await? {
            // LiveKit placed the call (the callee is in the room): adopt it.
            Some(Some(sip_status)) => Ok(Some(ProviderCall {
                provider_call_id: room,
                status: status_of(&sip_status),
                duration_sec: None,
            })),
            // The room without its callee: the dial never got that far, or ended before
            // an answer. Nothing rings: remove the room so the call can be given back.
            Some(None) => {
                self.delete_room(&room).await?;
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_name_their_call_and_only_ours_parse() {
        let id = Uuid::now_v7();
        assert_eq!(call_of_room(&room_name(id)), Some(id));
        assert_eq!(call_of_room("call-not-a-uuid"), None);
        assert_eq!(call_of_room(&id.to_string()), None);
    }

    #[test]
    fn the_dispatch_metadata_names_only_the_call_its_token_and_the_control_plane() {
        let id = Uuid::now_v7();
        let metadata: serde_json::Value =
            serde_json::from_str(&dispatch_metadata(id, "tok", "http://cp:8080")).unwrap();
        assert_eq!(
            metadata,
            serde_json::json!({"callId": id, "token": "tok", "controlPlaneUrl": "http://cp:8080"})
        );
    }

    #[test]
    fn the_sip_call_status_attribute_maps_to_call_statuses() {
        assert_eq!(status_of("active"), CallStatus::InProgress);
        assert_eq!(status_of("ringing"), CallStatus::Ringing);
        assert_eq!(status_of("dialing"), CallStatus::Ringing);
        assert_eq!(status_of("hangup"), CallStatus::Completed);
    }
}
