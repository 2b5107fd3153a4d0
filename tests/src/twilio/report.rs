//! What the emulator records about each call, for tests to assert on. The same types are
//! served as JSON by `GET /_emulator/calls`, so a test driving the emulator binary from
//! another process deserializes them unchanged.
//!
//! Two clocks: `at` fields are wall-clock times; `*_ms` fields on the callee's side are
//! milliseconds on the phone's playout clock, which starts at the answer and advances
//! 20 ms per frame played.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which kind of request the emulator made to the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    /// StatusCallback.
    Status,
    /// AsyncAmdStatusCallback.
    Amd,
    /// Fetching TwiML from Url (at answer or after a redirect).
    Twiml,
    /// `<Record>`'s action, recording status and transcription callbacks.
    Recording,
}

/// One request the emulator made to the product, with the answer it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackRecord {
    /// What it was for.
    pub kind: CallbackKind,
    /// The exact URL called (what was signed).
    pub url: String,
    /// GET or POST.
    pub method: String,
    /// The form parameters (for GET, also in the URL's query).
    pub params: Vec<(String, String)>,
    /// The X-Twilio-Signature sent.
    pub signature: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The HTTP status the product answered with.
    pub response_status: Option<u16>,
    /// Why no answer came (connection refused, timeout).
    pub error: Option<String>,
}

impl CallbackRecord {
    /// The value of parameter `name`, if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A mark the agent sent, and when it came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRecord {
    /// The mark's name.
    pub name: String,
    /// Phone clock when the mark arrived.
    pub received_ms: u64,
    /// Phone clock when it was echoed.
    pub echoed_ms: Option<u64>,
    /// Echoed because of a `clear`, not because its audio played.
    pub cleared: bool,
}

/// A `clear` from the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearRecord {
    /// Phone clock when it arrived.
    pub at_ms: u64,
    /// Buffered audio dropped, in milliseconds.
    pub dropped_ms: u64,
}

/// One `<Connect><Stream>` session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StreamReport {
    /// The URL connected to (query removed, as Twilio does).
    pub url: String,
    /// `MZ...`.
    pub stream_sid: String,
    /// The X-Twilio-Signature on the upgrade request.
    pub signature: String,
    /// From the `<Parameter>`s.
    pub custom_parameters: BTreeMap<String, String>,
    /// Phone clock when the WebSocket opened.
    pub started_ms: u64,
    /// Phone clock when it ended.
    pub ended_ms: Option<u64>,
    /// Why it ended: `server_closed`, `callee_hung_up`, `hangup_requested`, `redirected`,
    /// `time_limit`, `connect_failed: ...`.
    pub end: Option<String>,
    /// `media` messages sent to the agent (callee audio).
    pub media_sent: u64,
    /// Callee frames dropped before they were sent: the stream's queue was full (the
    /// stream task fell behind the phone clock).
    #[serde(default)]
    pub media_dropped: u64,
    /// `media` messages received from the agent.
    pub media_received: u64,
    /// Marks, in the order received.
    pub marks: Vec<MarkRecord>,
    /// Clears, in order.
    pub clears: Vec<ClearRecord>,
    /// DTMF digits sent.
    pub dtmf_sent: String,
    /// Messages from the agent that were not valid Media Streams messages.
    pub invalid_messages: Vec<String>,
}

/// An utterance decoded at the callee's ear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heard {
    /// The text (`None` when the utterance started but could not be decoded).
    pub text: Option<String>,
    /// Why it could not be decoded.
    pub error: Option<String>,
    /// Phone clock at its start.
    pub start_ms: u64,
    /// Phone clock at its end.
    pub end_ms: u64,
}

/// The callee started talking over the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BargeIn {
    /// What the callee said.
    pub text: String,
    /// Phone clock when the callee started.
    pub callee_started_ms: u64,
    /// Phone clock when the agent's audio stopped reaching the ear.
    pub agent_stopped_ms: Option<u64>,
}

impl BargeIn {
    /// How long the agent kept talking over the callee.
    pub fn latency_ms(&self) -> Option<u64> {
        self.agent_stopped_ms
            .map(|stop| stop.saturating_sub(self.callee_started_ms))
    }
}

/// Something the callee said (what was sent into the stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    /// The text.
    pub text: String,
    /// Phone clock when it started.
    pub start_ms: u64,
    /// Whether a stream was connected to carry it.
    pub streamed: bool,
}

/// A `<Dial>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// The number dialled.
    pub to: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// An event on the call's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// What, e.g. `status ringing`, `say "..."`, `amd human`.
    pub what: String,
}

/// Everything known about one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallReport {
    /// `CA...`.
    pub sid: String,
    /// The account.
    pub account_sid: String,
    /// The dialled number.
    pub to: String,
    /// The caller ID.
    pub from: String,
    /// Twilio's status for the call resource.
    pub status: String,
    /// AMD's verdict, once known.
    pub answered_by: Option<String>,
    /// Accepted by the REST API.
    pub created_at: DateTime<Utc>,
    /// Left the CPS queue and started dialling.
    pub dialed_at: Option<DateTime<Utc>>,
    /// Answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// Ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Who ended it: `callee`, `api`, `twiml`, `time_limit`, or the failure.
    pub ended_by: Option<String>,
    /// The create request's form fields, in order.
    pub request: Vec<(String, String)>,
    /// Every TwiML document obeyed, in order.
    pub twiml: Vec<String>,
    /// Every request made to the product, in the order sent.
    pub callbacks: Vec<CallbackRecord>,
    /// Media streams, in order.
    pub streams: Vec<StreamReport>,
    /// What the callee heard, decoded.
    pub heard: Vec<Heard>,
    /// `<Say>` and `<Play>` the callee heard: `say:<text>` or `play:<url>`.
    pub twiml_audio: Vec<String>,
    /// What the callee said.
    pub said: Vec<Said>,
    /// Times the callee talked over the agent.
    pub barge_ins: Vec<BargeIn>,
    /// Phone clock of each 20 ms frame that ran short while an utterance was mid-way.
    pub underruns_ms: Vec<u64>,
    /// `<Dial>`s.
    pub transfers: Vec<Transfer>,
    /// Everything, in order.
    pub timeline: Vec<TimelineEvent>,
}

impl CallReport {
    /// Status callbacks' `CallStatus` values in the order they were sent.
    pub fn callback_statuses(&self) -> Vec<String> {
        self.callbacks
            .iter()
            .filter(|c| c.kind == CallbackKind::Status)
            .filter_map(|c| c.param("CallStatus").map(str::to_string))
            .collect()
    }

    /// The texts decoded at the callee's ear, in order.
    pub fn heard_texts(&self) -> Vec<String> {
        self.heard.iter().filter_map(|h| h.text.clone()).collect()
    }

    /// Whether the call has ended.
    pub fn is_ended(&self) -> bool {
        self.ended_at.is_some()
    }

    /// Call duration in whole seconds from answer to end, as Twilio reports it.
    pub fn duration_s(&self) -> Option<i64> {
        let (start, end) = (self.answered_at?, self.ended_at?);
        Some((end - start).num_milliseconds().max(0) / 1000)
    }

    /// When the call last changed, as Twilio's `date_updated` reports it.
    pub fn last_change(&self) -> DateTime<Utc> {
        [self.ended_at, self.answered_at, self.dialed_at]
            .into_iter()
            .flatten()
            .next()
            .unwrap_or(self.created_at)
    }
}
