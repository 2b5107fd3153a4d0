//! The tools the LLM may call, and what a call to each means for the conversation.

use crate::providers::{ToolCall, ToolSpec};
use serde::Deserialize;
use serde_json::json;
use shared::job::CallJob;
use shared::CallOutcome;

/// A tool call, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    /// Say goodbye and hang up once the reply has played.
    EndCall,
    /// Hand the callee to the configured number once the reply has played.
    TransferCall {
        to: String,
    },
    SetOutcome {
        outcome: CallOutcome,
        notes: Option<String>,
    },
    /// Call back at this RFC 3339 time.
    ScheduleCallback {
        at: String,
    },
    AddToDnc {
        reason: Option<String>,
    },
    /// A machine answered: leave the assistant's voicemail message and hang up.
    LeaveVoicemail,
    /// Text the other party the assistant's message (already filled with the call's
    /// variables by the control plane, which sends it).
    SendSms {
        body: String,
    },
}

/// The tool specs offered for this call (only what the job allows).
pub fn specs(job: &CallJob) -> Vec<ToolSpec> {
    let mut specs = Vec::new();
    if job.tools.end_call {
        specs.push(spec(
            "end_call",
            "Hang up after your reply is spoken. Use when the conversation is over.",
            json!({"type": "object", "properties": {"reason": {"type": "string"}}}),
        ));
    }
    if job.tools.transfer_to.is_some() {
        specs.push(spec(
            "transfer_call",
            "Transfer the callee to a human colleague after your reply is spoken.",
            json!({"type": "object", "properties": {"reason": {"type": "string"}}}),
        ));
    }
    let outcomes: Vec<&str> = CallOutcome::ALL.iter().map(|o| o.as_str()).collect();
    specs.push(spec(
        "set_outcome",
        "Record the call's result.",
        json!({"type": "object", "required": ["outcome"], "properties": {
            "outcome": {"type": "string", "enum": outcomes},
            "notes": {"type": "string"}}}),
    ));
    specs.push(spec(
        "schedule_callback",
        "Schedule a call back at the time the callee asked for.",
        json!({"type": "object", "required": ["at"], "properties": {
            "at": {"type": "string", "description": "RFC 3339 date-time"}}}),
    ));
    specs.push(spec(
        "add_to_dnc",
        "The callee asked never to be called again.",
        json!({"type": "object", "properties": {"reason": {"type": "string"}}}),
    ));
    if job.tools.sms_message.is_some() {
        specs.push(spec(
            "send_sms",
            "Send the callee the prepared text message (a confirmation with their details).",
            json!({"type": "object", "properties": {}}),
        ));
    }
    if job.voicemail_message.is_some() {
        specs.push(spec(
            "leave_voicemail",
            "An answering machine picked up: leave the voicemail message.",
            json!({"type": "object", "properties": {}}),
        ));
    }
    specs
}

fn spec(name: &str, description: &str, parameters: serde_json::Value) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters,
    }
}

/// Why a tool call cannot be carried out; the message goes back to the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool {0}")]
    Unknown(String),
    #[error("invalid arguments for {tool}: {message}")]
    Arguments { tool: String, message: String },
    #[error("{0} is not allowed on this call")]
    NotAllowed(String),
}

/// Parses a tool call against what this job allows.
pub fn parse(call: &ToolCall, job: &CallJob) -> Result<Tool, ToolError> {
    let args = |call: &ToolCall| -> Result<serde_json::Value, ToolError> {
        let text = if call.arguments.trim().is_empty() {
            "{}"
        } else {
            call.arguments.as_str()
        };
        serde_json::from_str(text).map_err(|e| ToolError::Arguments {
            tool: call.name.clone(),
            message: e.to_string(),
        })
    };
    let typed = |value: serde_json::Value, name: &str| -> Result<Fields, ToolError> {
        serde_json::from_value(value).map_err(|e| ToolError::Arguments {
            tool: name.into(),
            message: e.to_string(),
        })
    };
    let fields = typed(args(call)?, &call.name)?;
    match call.name.as_str() {
        "end_call" if job.tools.end_call => Ok(Tool::EndCall),
        "transfer_call" => match &job.tools.transfer_to {
            Some(to) => Ok(Tool::TransferCall { to: to.clone() }),
            None => Err(ToolError::NotAllowed(call.name.clone())),
        },
        "set_outcome" => {
            let outcome = fields.outcome.ok_or_else(|| missing(call, "outcome"))?;
            let outcome = outcome.parse().map_err(|_| ToolError::Arguments {
                tool: call.name.clone(),
                message: format!("unknown outcome {outcome:?}"),
            })?;
            Ok(Tool::SetOutcome {
                outcome,
                notes: fields.notes,
            })
        }
        "schedule_callback" => {
            let at = fields.at.ok_or_else(|| missing(call, "at"))?;
            chrono::DateTime::parse_from_rfc3339(&at).map_err(|e| ToolError::Arguments {
                tool: call.name.clone(),
                message: format!("at is not an RFC 3339 time: {e}"),
            })?;
            Ok(Tool::ScheduleCallback { at })
        }
        "add_to_dnc" => Ok(Tool::AddToDnc {
            reason: fields.reason,
        }),
        "leave_voicemail" if job.voicemail_message.is_some() => Ok(Tool::LeaveVoicemail),
        "send_sms" => match &job.tools.sms_message {
            Some(body) => Ok(Tool::SendSms { body: body.clone() }),
            None => Err(ToolError::NotAllowed(call.name.clone())),
        },
        "end_call" | "leave_voicemail" => Err(ToolError::NotAllowed(call.name.clone())),
        other => Err(ToolError::Unknown(other.into())),
    }
}

fn missing(call: &ToolCall, field: &str) -> ToolError {
    ToolError::Arguments {
        tool: call.name.clone(),
        message: format!("{field} is required"),
    }
}

/// Every argument any tool takes; each tool reads its own.
#[derive(Debug, Default, Deserialize)]
struct Fields {
    outcome: Option<String>,
    notes: Option<String>,
    at: Option<String>,
    reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: "call_1".into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    pub(crate) fn job() -> CallJob {
        serde_json::from_value(json!({
            "callId": "00000000-0000-0000-0000-000000000001",
            "orgId": "00000000-0000-0000-0000-000000000002",
            "campaignId": null, "mode": "twilio_stream", "to": "+14155550100", "from": null,
            "assistantId": null, "assistantVersion": null, "language": "en-US",
            "systemPrompt": "You are Ava.", "firstMessage": "Hi!", "voicemailMessage": null,
            "llm": {"provider": "openai", "model": "gpt-4o-mini"},
            "stt": {"provider": "deepgram", "model": "nova-3"},
            "tts": {"provider": "elevenlabs", "voice": "v1", "model": null},
            "tools": {"endCall": true, "transferTo": null},
            "variables": {}, "limits": {"maxDurationSec": 600, "budgetCents": null},
            "eventsUrl": "http://127.0.0.1/internal/v1/calls/x/events"
        }))
        .unwrap()
    }

    #[test]
    fn outcomes_and_callbacks_are_checked() {
        let job = job();
        assert_eq!(
            parse(
                &call(
                    "set_outcome",
                    r#"{"outcome":"not_interested","notes":"busy"}"#
                ),
                &job
            ),
            Ok(Tool::SetOutcome {
                outcome: CallOutcome::NotInterested,
                notes: Some("busy".into())
            })
        );
        assert!(matches!(
            parse(&call("set_outcome", r#"{"outcome":"maybe"}"#), &job),
            Err(ToolError::Arguments { .. })
        ));
        assert!(parse(&call("schedule_callback", r#"{"at":"tomorrow"}"#), &job).is_err());
        assert!(parse(
            &call("schedule_callback", r#"{"at":"2026-11-24T10:00:00Z"}"#),
            &job
        )
        .is_ok());
        assert_eq!(parse(&call("end_call", ""), &job), Ok(Tool::EndCall));
    }

    #[test]
    fn tools_the_job_does_not_allow_are_refused_and_not_offered() {
        let job = job();
        assert_eq!(
            parse(&call("transfer_call", "{}"), &job),
            Err(ToolError::NotAllowed("transfer_call".into()))
        );
        assert!(!specs(&job).iter().any(|s| s.name == "transfer_call"));
        let mut job = job;
        job.tools.transfer_to = Some("+14155550199".into());
        assert_eq!(
            parse(&call("transfer_call", "{}"), &job),
            Ok(Tool::TransferCall {
                to: "+14155550199".into()
            })
        );
        assert!(parse(&call("launch_rocket", "{}"), &job).is_err());
    }

    #[test]
    fn send_sms_is_offered_and_carries_the_prepared_text_only_when_the_job_has_one() {
        let mut job = job();
        assert!(!specs(&job).iter().any(|s| s.name == "send_sms"));
        assert_eq!(
            parse(&call("send_sms", "{}"), &job),
            Err(ToolError::NotAllowed("send_sms".into()))
        );
        job.tools.sms_message = Some("Your code is 42".into());
        assert!(specs(&job).iter().any(|s| s.name == "send_sms"));
        assert_eq!(
            parse(&call("send_sms", r#"{"body":"anything else"}"#), &job),
            Ok(Tool::SendSms {
                body: "Your code is 42".into()
            })
        );
    }
}
