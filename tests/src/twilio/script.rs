//! What an emulated callee does: how the phone reacts to the dial, then what the person
//! (or voicemail) says, presses and when they hang up.
//!
//! Scripts are keyed by the dialled `To` number and can be loaded from JSON, e.g.
//! `{"pickup": {"kind": "answer"}, "ring_ms": 500, "actions": [{"do": "say", "text":
//! "hello", "wait_for_agent": true, "after_ms": 300}]}`.

use serde::{Deserialize, Serialize};

/// How the phone reacts to the dial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pickup {
    /// A person answers after `ring_ms`.
    #[default]
    Answer,
    /// The line is busy (SIP 486): `initiated`, then `busy`.
    Busy,
    /// Rings until the request's `Timeout` runs out, then `no-answer`.
    NoAnswer,
    /// The carrier fails the call (SIP 503): `initiated`, then `failed`.
    Failed,
    /// The create request itself is refused with 400 / 21214.
    Unreachable,
    /// A voicemail system answers after `ring_ms`, plays `greeting` in test speech code,
    /// beeps, then records for `record_ms` before hanging up.
    Voicemail {
        /// The greeting's text.
        greeting: String,
        /// How long it records after the beep.
        #[serde(default = "default_record_ms")]
        record_ms: u64,
    },
}

fn default_record_ms() -> u64 {
    30_000
}

/// One step of the answered callee's script. Steps run in order from the first media
/// stream's start (a person says "hello?" when they hear the line come alive); a call that
/// never connects a stream never runs them, though `hang_up_after_ms` still applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    /// Say `text` in test speech code `after_ms` after the previous step ended; with
    /// `wait_for_agent`, first wait until the agent has said something and gone quiet, and
    /// count `after_ms` from when it went quiet.
    Say {
        /// What is said.
        text: String,
        /// Pause before speaking.
        #[serde(default)]
        after_ms: u64,
        /// Take turns: wait for the agent to speak and stop first.
        #[serde(default)]
        wait_for_agent: bool,
        /// Speech the STT cannot make out (a cough, a word lost on the line): the audio of
        /// `text` with its middle corrupted, so the VAD hears speech and no words come of it.
        #[serde(default)]
        garbled: bool,
    },
    /// Press `digits` (sent as Media Streams `dtmf` events, 200 ms apart).
    Press {
        /// Digits, `0-9*#`.
        digits: String,
        /// Pause before the first digit.
        #[serde(default)]
        after_ms: u64,
    },
    /// Hang up `after_ms` after the previous step ended.
    HangUp {
        /// Pause before hanging up.
        #[serde(default)]
        after_ms: u64,
    },
}

/// How status callbacks for a call are delivered: for the product's idempotency tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CallbackDelivery {
    /// Once each, in order.
    #[default]
    InOrder,
    /// Each one twice, back to back (same SequenceNumber).
    Twice,
    /// In swapped pairs: 1, 0, 3, 2, ... (the SequenceNumber tells the true order).
    Reordered,
}

/// The whole behaviour of one callee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalleeScript {
    /// How the phone reacts.
    #[serde(default)]
    pub pickup: Pickup,
    /// Ringing time before answering (or before busy / failed).
    #[serde(default)]
    pub ring_ms: u64,
    /// What the answered callee does.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// Hang up this long after answering, whatever the script is doing.
    #[serde(default)]
    pub hang_up_after_ms: Option<u64>,
    /// How callbacks are delivered.
    #[serde(default)]
    pub callbacks: CallbackDelivery,
    /// How long answering machine detection takes to decide `human` or `machine_start`.
    #[serde(default = "default_amd_ms")]
    pub amd_ms: u64,
}

fn default_amd_ms() -> u64 {
    1_200
}

impl Default for CalleeScript {
    fn default() -> Self {
        Self::answer()
    }
}

impl CalleeScript {
    fn with_pickup(pickup: Pickup) -> Self {
        CalleeScript {
            pickup,
            ring_ms: 0,
            actions: Vec::new(),
            hang_up_after_ms: None,
            callbacks: CallbackDelivery::InOrder,
            amd_ms: default_amd_ms(),
        }
    }

    /// Answers at once and stays silent (the default for unknown numbers).
    pub fn answer() -> Self {
        Self::with_pickup(Pickup::Answer)
    }

    /// Answers after ringing `ms`.
    pub fn answer_after(ms: u64) -> Self {
        Self::answer().ring(ms)
    }

    /// Busy.
    pub fn busy() -> Self {
        Self::with_pickup(Pickup::Busy)
    }

    /// Rings until the request's Timeout.
    pub fn no_answer() -> Self {
        Self::with_pickup(Pickup::NoAnswer)
    }

    /// The carrier fails the call.
    pub fn failed() -> Self {
        Self::with_pickup(Pickup::Failed)
    }

    /// The create request is refused with 21214.
    pub fn unreachable() -> Self {
        Self::with_pickup(Pickup::Unreachable)
    }

    /// Voicemail with this greeting, recording for 30 s after the beep.
    pub fn voicemail(greeting: &str) -> Self {
        Self::with_pickup(Pickup::Voicemail {
            greeting: greeting.to_string(),
            record_ms: default_record_ms(),
        })
    }

    /// Rings `ms` before the pickup happens.
    pub fn ring(mut self, ms: u64) -> Self {
        self.ring_ms = ms;
        self
    }

    /// Says `text` `after_ms` after the previous step.
    pub fn say(mut self, after_ms: u64, text: &str) -> Self {
        self.actions.push(Action::Say {
            text: text.to_string(),
            after_ms,
            wait_for_agent: false,
            garbled: false,
        });
        self
    }

    /// Waits for the agent to speak and go quiet, then says `text` `pause_ms` later.
    pub fn reply(mut self, pause_ms: u64, text: &str) -> Self {
        self.actions.push(Action::Say {
            text: text.to_string(),
            after_ms: pause_ms,
            wait_for_agent: true,
            garbled: false,
        });
        self
    }

    /// Like [`CalleeScript::reply`], but the words do not come through (see
    /// [`Action::Say::garbled`]).
    pub fn mumble(mut self, pause_ms: u64) -> Self {
        self.actions.push(Action::Say {
            text: "mumble mumble".to_string(),
            after_ms: pause_ms,
            wait_for_agent: true,
            garbled: true,
        });
        self
    }

    /// Presses `digits` `after_ms` after the previous step.
    pub fn press(mut self, after_ms: u64, digits: &str) -> Self {
        self.actions.push(Action::Press {
            digits: digits.to_string(),
            after_ms,
        });
        self
    }

    /// Hangs up `after_ms` after the previous step.
    pub fn then_hang_up(mut self, after_ms: u64) -> Self {
        self.actions.push(Action::HangUp { after_ms });
        self
    }

    /// Hangs up `ms` after answering, whatever else is going on.
    pub fn hang_up_after(mut self, ms: u64) -> Self {
        self.hang_up_after_ms = Some(ms);
        self
    }

    /// Delivers this call's status callbacks twice or out of order.
    pub fn deliver_callbacks(mut self, delivery: CallbackDelivery) -> Self {
        self.callbacks = delivery;
        self
    }

    /// AMD decides after `ms`.
    pub fn amd_after(mut self, ms: u64) -> Self {
        self.amd_ms = ms;
        self
    }

    /// Whether a machine answers (for AMD).
    pub fn is_machine(&self) -> bool {
        matches!(self.pickup, Pickup::Voicemail { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_loads_from_json_with_defaults_filled_in() {
        let json = r#"{"ring_ms": 500, "actions": [
            {"do": "say", "text": "hello", "wait_for_agent": true, "after_ms": 300},
            {"do": "press", "digits": "12"},
            {"do": "hang_up"}]}"#;
        let script: CalleeScript = serde_json::from_str(json).expect("valid script");
        assert_eq!(script.pickup, Pickup::Answer);
        assert_eq!(
            script,
            CalleeScript::answer_after(500)
                .reply(300, "hello")
                .press(0, "12")
                .then_hang_up(0)
        );
        let vm: CalleeScript =
            serde_json::from_str(r#"{"pickup": {"kind": "voicemail", "greeting": "leave it"}}"#)
                .expect("valid script");
        assert!(vm.is_machine());
    }
}
