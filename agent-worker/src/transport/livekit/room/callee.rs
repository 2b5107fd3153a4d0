//! Following the callee in the room: the SIP participant livekit-sip adds when the control
//! plane dials. Its `sip.callStatus` attribute says where the call is (dialing, ringing,
//! active, hangup); its leaving (or `hangup`) is the callee hanging up.
//!
//! `ParticipantInfo`s arrive in the `JoinResponse` and in `ParticipantUpdate`s, possibly
//! out of order: only a newer `version` of a participant replaces what we know.

use std::collections::HashMap;

use livekit_protocol::{participant_info, ParticipantInfo};

/// The attribute livekit-sip keeps the call's state in.
const CALL_STATUS: &str = "sip.callStatus";

/// Where the callee is, as the room shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalleeState {
    /// No SIP participant yet (the dial has not started).
    Absent,
    /// In the room; `sip.callStatus` as livekit-sip set it ("dialing", "ringing",
    /// "active", ...; empty before the first).
    Present(String),
    /// Left the room, or its call status became "hangup".
    Left,
}

impl CalleeState {
    /// The callee answered and the call is up: the agent may speak.
    pub fn is_active(&self) -> bool {
        matches!(self, CalleeState::Present(status) if status == "active")
    }
}

/// What the room knows about its participants.
#[derive(Debug, Default)]
pub(super) struct Participants {
    /// Version last applied, by participant sid.
    versions: HashMap<String, u32>,
    /// The SIP participant's sid, once seen.
    callee_sid: Option<String>,
    state: Option<CalleeState>,
}

impl Participants {
    /// Applies one participant's info; returns the callee's state if this changed it.
    pub(super) fn apply(&mut self, info: &ParticipantInfo) -> Option<CalleeState> {
        if let Some(&seen) = self.versions.get(&info.sid) {
            if info.version <= seen && info.version != 0 {
                return None;
            }
        }
        self.versions.insert(info.sid.clone(), info.version);
        let is_callee = info.kind == participant_info::Kind::Sip as i32
            || self.callee_sid.as_deref() == Some(info.sid.as_str());
        if !is_callee {
            return None;
        }
        self.callee_sid = Some(info.sid.clone());
        let status = info
            .attributes
            .get(CALL_STATUS)
            .cloned()
            .unwrap_or_default();
        let state =
            if info.state == participant_info::State::Disconnected as i32 || status == "hangup" {
                CalleeState::Left
            } else {
                CalleeState::Present(status)
            };
        // Once gone, a late update cannot bring the callee back.
        if self.state == Some(CalleeState::Left) || self.state.as_ref() == Some(&state) {
            return None;
        }
        self.state = Some(state.clone());
        Some(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(version: u32, status: &str, state: participant_info::State) -> ParticipantInfo {
        ParticipantInfo {
            sid: "PA_sip".into(),
            identity: "callee".into(),
            kind: participant_info::Kind::Sip as i32,
            state: state as i32,
            version,
            attributes: [(CALL_STATUS.to_string(), status.to_string())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_sip_participants_status_is_followed_to_active_and_its_leaving() {
        use participant_info::State::*;
        let mut room = Participants::default();
        let agent = ParticipantInfo {
            sid: "PA_agent".into(),
            kind: participant_info::Kind::Agent as i32,
            ..Default::default()
        };
        assert_eq!(room.apply(&agent), None);
        assert_eq!(
            room.apply(&sip(1, "dialing", Joining)),
            Some(CalleeState::Present("dialing".into()))
        );
        let active = room.apply(&sip(3, "active", Active)).unwrap();
        assert!(active.is_active());
        // An older update arriving late changes nothing.
        assert_eq!(room.apply(&sip(2, "ringing", Joined)), None);
        assert_eq!(
            room.apply(&sip(4, "active", Disconnected)),
            Some(CalleeState::Left)
        );
        assert_eq!(room.apply(&sip(5, "active", Active)), None);
    }

    #[test]
    fn a_hangup_status_is_the_callee_leaving() {
        let mut room = Participants::default();
        room.apply(&sip(1, "active", participant_info::State::Active));
        assert_eq!(
            room.apply(&sip(2, "hangup", participant_info::State::Active)),
            Some(CalleeState::Left)
        );
    }
}
