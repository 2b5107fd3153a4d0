//! The Twilio emulator: an independent implementation of the parts of Twilio the product
//! uses (REST Calls API, status and AMD callbacks, TwiML, Media Streams), with scripted
//! callees that speak and hear the test speech code.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use outbound_tests::twilio::{CalleeScript, Emulator, EmulatorConfig};
//! use std::time::Duration;
//! let twilio = Emulator::start(EmulatorConfig::unlimited()).await?;
//! twilio.register_callee("+15550001111", CalleeScript::answer_after(500).reply(300, "yes"));
//! // Point the product at twilio.base_url() with twilio.account_sid() / auth_token().
//! let call = twilio.wait_for_dial("+15550001111", Duration::from_secs(10)).await?;
//! let done = twilio.wait_for_call_end(&call.sid, Duration::from_secs(30)).await?;
//! assert_eq!(done.heard_texts(), ["hello from the agent"]);
//! # Ok(()) }
//! ```

mod call;
mod callbacks;
mod config;
mod emulator;
mod error;
mod inbound_inspect;
mod inspect;
mod messaging;
mod phone;
pub mod report;
mod rest;
pub mod script;
pub mod signature;
mod store;
mod stream;
pub mod trunking;
pub mod twiml;

pub use call::inbound::NumberHooks;
pub use config::{EmulatorConfig, VerbTiming};
pub use emulator::{Emulator, EmulatorHandle, WaitError};
pub use error::TwilioError;
pub use inspect::Settings;
pub use messaging::MessageReport;
pub use report::CallReport;
pub use script::{CallbackDelivery, CalleeScript, Pickup};
pub use trunking::TrunkReport;

/// A Twilio-style SID: two letters and 32 lower-case hex digits.
pub(crate) fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid_hex())
}

fn uuid_hex() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}
