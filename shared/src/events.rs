//! `CallEvent`: what a worker reports about a call, in order, each with a per-call
//! sequence number so a retried delivery is applied once.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::status::CallOutcome;

/// One event with its sequence number (1, 2, 3, ... per call).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CallEvent {
    pub seq: i64,
    /// Milliseconds since the call's media started.
    pub at_ms: i64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Who spoke.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Agent,
    Callee,
}

/// What happened. The control plane carries out the actions (hang up, transfer,
/// callback, DNC).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum EventKind {
    /// The worker took the call (its media connected).
    Connected { worker_id: String },
    /// A finished piece of the conversation.
    Transcript {
        speaker: Speaker,
        text: String,
        start_ms: i64,
        end_ms: i64,
        confidence: Option<f64>,
    },
    /// The LLM called a tool (recorded for the audit).
    ToolCall {
        name: String,
        arguments: serde_json::Value,
    },
    /// The conversation's result.
    Outcome {
        outcome: CallOutcome,
        notes: Option<String>,
    },
    /// Per-call latency summary (milliseconds).
    Metrics { latency: serde_json::Value },
    /// Provider usage and the cost it adds up to.
    Usage {
        stt_requests: i64,
        stt_errors: i64,
        llm_requests: i64,
        llm_errors: i64,
        tts_requests: i64,
        tts_errors: i64,
        cost_cents: f64,
        cost_breakdown: serde_json::Value,
    },
    /// A recording was stored.
    RecordingStored {
        location: String,
        format: String,
        channels: i16,
        duration_sec: f64,
        size_bytes: i64,
    },
    /// Ask the control plane to hang up.
    HangUp { reason: String },
    /// Ask the control plane to transfer the callee.
    Transfer { to: String },
    /// Call the contact again at this time (RFC 3339).
    ScheduleCallback { at: String },
    /// Put the callee's number on the Do-Not-Call list.
    AddToDnc { reason: Option<String> },
    /// Text the call's other party (the assistant's `send_sms` message, rendered).
    SendSms { body: String },
    /// The worker is done with the call.
    Ended { reason: String },
}

impl EventKind {
    /// The event's type as it travels (`transcript`, `transfer`, ...): what logs may show,
    /// since the event itself can hold a transcript or a phone number.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connected { .. } => "connected",
            Self::Transcript { .. } => "transcript",
            Self::ToolCall { .. } => "tool_call",
            Self::Outcome { .. } => "outcome",
            Self::Metrics { .. } => "metrics",
            Self::Usage { .. } => "usage",
            Self::RecordingStored { .. } => "recording_stored",
            Self::HangUp { .. } => "hang_up",
            Self::Transfer { .. } => "transfer",
            Self::ScheduleCallback { .. } => "schedule_callback",
            Self::AddToDnc { .. } => "add_to_dnc",
            Self::SendSms { .. } => "send_sms",
            Self::Ended { .. } => "ended",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_by_type_in_snake_case() {
        let event = CallEvent {
            seq: 3,
            at_ms: 1200,
            kind: EventKind::Outcome {
                outcome: CallOutcome::NotInterested,
                notes: None,
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "outcome");
        assert_eq!(event.kind.name(), "outcome");
        assert_eq!(json["outcome"], "not_interested");
        assert_eq!(json["seq"], 3);
        let back: CallEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        let connected: CallEvent =
            serde_json::from_str(r#"{"seq":1,"atMs":0,"type":"connected","workerId":"w1"}"#)
                .unwrap();
        assert_eq!(
            connected.kind,
            EventKind::Connected {
                worker_id: "w1".into()
            }
        );
    }
}
