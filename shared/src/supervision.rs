//! Live supervision's wire contract between the control plane and a worker: the controls
//! the control plane forwards (`POST /internal/calls/{id}/control`, and take-over and
//! hand-back as text on the `/internal/calls/{id}/supervise` WebSocket), and the text
//! messages the worker sends on that WebSocket beside the binary listen frames.

use serde::{Deserialize, Serialize};

/// A supervisor's control, as JSON `{"action": "say", "text": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Control {
    /// The agent stops what it is saying and says `text`.
    Say { text: String },
    /// A note for the model that the callee does not hear.
    Whisper { text: String },
    /// End the call now.
    End,
    /// Transfer the call to `to` (E.164).
    Transfer { to: String },
    /// The agent falls silent; the supervisor's audio on the WebSocket reaches the callee.
    TakeOver,
    /// The agent resumes.
    HandBack,
}

impl Control {
    /// The action's name as audited (`take_over`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Control::Say { .. } => "say",
            Control::Whisper { .. } => "whisper",
            Control::End => "end",
            Control::Transfer { .. } => "transfer",
            Control::TakeOver => "take_over",
            Control::HandBack => "hand_back",
        }
    }
}

/// A text message from the worker on the supervise WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum WorkerMessage {
    /// The answer to a control sent on this socket, in the order they were sent.
    #[serde(rename_all = "camelCase")]
    Result {
        action: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Whether the call is taken over (sent on connect and on every change).
    #[serde(rename_all = "camelCase")]
    State { taken_over: bool },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_messages_have_one_spelling() {
        let say: Control = serde_json::from_str(r#"{"action":"say","text":"hi"}"#).unwrap();
        assert_eq!(say, Control::Say { text: "hi".into() });
        let take: Control = serde_json::from_str(r#"{"action":"takeOver"}"#).unwrap();
        assert_eq!(take.name(), "take_over");
        let state = serde_json::to_string(&WorkerMessage::State { taken_over: true }).unwrap();
        assert_eq!(state, r#"{"type":"state","takenOver":true}"#);
    }
}
