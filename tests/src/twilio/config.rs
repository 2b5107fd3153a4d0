//! How an emulator instance is set up.

use super::script::CalleeScript;
use control_plane::engine::{Clock, SystemClock};
use std::net::SocketAddr;
use std::sync::Arc;

/// Settings for one emulator instance: one Twilio account.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The account SID the REST API accepts (`AC` + 32 hex).
    pub account_sid: String,
    /// The auth token: Basic auth password and the key callbacks are signed with.
    pub auth_token: String,
    /// Calls leaving the queue per second (Twilio's default is 1); 0 means no limit.
    pub calls_per_second: f64,
    /// What numbers without a registered script do: answer and stay silent.
    pub default_callee: CalleeScript,
    /// How long TwiML verbs that play to the callee take.
    pub timing: VerbTiming,
    /// Twilio's clock, for the times it reports (`date_created`, `Timestamp`, ...). The
    /// wall clock by default; a test that runs the control plane on a manual clock gives
    /// Twilio the same one, as real Twilio and a real control plane share the real time.
    pub clock: Arc<dyn Clock>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            auth_token: "0123456789abcdef0123456789abcdef".into(),
            calls_per_second: 1.0,
            default_callee: CalleeScript::answer(),
            timing: VerbTiming::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl EmulatorConfig {
    /// The default account with no CPS limit: what most tests want.
    pub fn unlimited() -> Self {
        EmulatorConfig {
            calls_per_second: 0.0,
            ..Self::default()
        }
    }
}

/// Durations of verbs whose audio the emulator does not synthesise.
#[derive(Debug, Clone, Copy)]
pub struct VerbTiming {
    /// `<Say>` lasts this long per character.
    pub say_ms_per_char: u64,
    /// `<Play>` lasts this long.
    pub play_ms: u64,
    /// A `<Dial>`ed party stays on this long before hanging up.
    pub dial_ms: u64,
}

impl Default for VerbTiming {
    fn default() -> Self {
        VerbTiming {
            say_ms_per_char: 40,
            play_ms: 1_000,
            dial_ms: 1_000,
        }
    }
}
