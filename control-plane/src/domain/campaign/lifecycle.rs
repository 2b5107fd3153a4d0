//! A campaign's life: its statuses, the operator's actions (start, pause, resume, stop)
//! and which action is allowed from which status. The engine's own moves (running to
//! completed or error) are not operator actions and live with the engine.
//!
//! The dial queue's attempt states are here too: the lifecycle actions move them.

shared::text_enum!(
    /// Where a campaign is in its life.
    CampaignStatus {
        /// Being set up; nothing is dialed.
        Draft => "draft",
        /// The engine dials its queue.
        Running => "running",
        /// Held by an operator; the queue is kept.
        Paused => "paused",
        /// Ended by an operator; pending attempts were canceled.
        Stopped => "stopped",
        /// The engine worked through the whole queue.
        Completed => "completed",
        /// The engine could not go on (see `statusReason`); may be resumed or stopped.
        Error => "error",
    }
);

shared::text_enum!(
    /// What an operator can do to a campaign.
    CampaignAction {
        Start => "start",
        Pause => "pause",
        Resume => "resume",
        Stop => "stop",
    }
);

shared::text_enum!(
    /// Where one (campaign, contact) pair is in the dial queue.
    AttemptState {
        Pending => "pending",
        Leased => "leased",
        Dialing => "dialing",
        InCall => "in_call",
        Done => "done",
        Exhausted => "exhausted",
        Skipped => "skipped",
        Canceled => "canceled",
    }
);

/// An action asked of a campaign whose status does not allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a campaign that is {status}")]
pub struct TransitionError {
    pub action: CampaignAction,
    pub status: CampaignStatus,
}

impl CampaignAction {
    /// The statuses this action may be taken from.
    pub fn allowed_from(self) -> &'static [CampaignStatus] {
        use CampaignStatus::*;
        match self {
            CampaignAction::Start => &[Draft],
            CampaignAction::Pause => &[Running],
            CampaignAction::Resume => &[Paused, Error],
            CampaignAction::Stop => &[Running, Paused, Error],
        }
    }

    /// The status the campaign has after the action.
    pub fn target(self) -> CampaignStatus {
        match self {
            CampaignAction::Start | CampaignAction::Resume => CampaignStatus::Running,
            CampaignAction::Pause => CampaignStatus::Paused,
            CampaignAction::Stop => CampaignStatus::Stopped,
        }
    }

    /// Whether the action (re)fills the dial queue from the contact list.
    pub fn enqueues_contacts(self) -> bool {
        matches!(self, CampaignAction::Start | CampaignAction::Resume)
    }
}

impl CampaignStatus {
    /// The status after `action`, or why the action is not allowed now.
    pub fn apply(self, action: CampaignAction) -> Result<CampaignStatus, TransitionError> {
        if action.allowed_from().contains(&self) {
            Ok(action.target())
        } else {
            Err(TransitionError {
                action,
                status: self,
            })
        }
    }

    /// Settings may change only while nothing is being dialed.
    pub fn is_editable(self) -> bool {
        matches!(self, CampaignStatus::Draft | CampaignStatus::Paused)
    }

    /// A campaign may be deleted once it cannot dial any more (or never could).
    pub fn is_deletable(self) -> bool {
        matches!(
            self,
            CampaignStatus::Draft
                | CampaignStatus::Stopped
                | CampaignStatus::Completed
                | CampaignStatus::Error
        )
    }
}

impl AttemptState {
    /// The attempt is with the engine or a worker right now.
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            AttemptState::Leased | AttemptState::Dialing | AttemptState::InCall
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignAction::*;
    use CampaignStatus::*;

    #[test]
    fn every_status_and_action_has_exactly_the_documented_transitions() {
        let expected = [
            (Draft, Start, Some(Running)),
            (Running, Pause, Some(Paused)),
            (Paused, Resume, Some(Running)),
            (Error, Resume, Some(Running)),
            (Running, Stop, Some(Stopped)),
            (Paused, Stop, Some(Stopped)),
            (Error, Stop, Some(Stopped)),
        ];
        for status in CampaignStatus::ALL {
            for action in CampaignAction::ALL {
                let want = expected
                    .iter()
                    .find(|(s, a, _)| s == status && a == action)
                    .and_then(|(_, _, to)| *to);
                assert_eq!(status.apply(*action).ok(), want, "{action} from {status}");
            }
        }
    }

    #[test]
    fn a_refused_transition_says_what_and_from_where() {
        let err = Draft.apply(Pause).unwrap_err();
        assert_eq!(err.to_string(), "cannot pause a campaign that is draft");
        let err = Completed.apply(Resume).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot resume a campaign that is completed"
        );
    }

    #[test]
    fn only_idle_campaigns_are_editable_and_only_ended_ones_deletable() {
        let editable: Vec<_> = CampaignStatus::ALL
            .iter()
            .filter(|s| s.is_editable())
            .collect();
        assert_eq!(editable, [&Draft, &Paused]);
        assert!(!Running.is_deletable());
        assert!(!Paused.is_deletable());
        assert!(Error.is_deletable());
    }

    #[test]
    fn spellings_round_trip() {
        for s in CampaignStatus::ALL {
            assert_eq!(s.as_str().parse::<CampaignStatus>().unwrap(), *s);
        }
        for s in AttemptState::ALL {
            assert_eq!(s.as_str().parse::<AttemptState>().unwrap(), *s);
        }
        assert!(AttemptState::InCall.is_in_progress());
        assert!(!AttemptState::Pending.is_in_progress());
    }
}
