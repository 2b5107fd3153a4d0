//! Text messages through Twilio's Messages resource: sending (from the API and from the
//! agent's `send_sms` tool), delivery status, inbound texts stored per contact, and the
//! carriers' opt-out keywords, which put the texter on the organization's Do-Not-Call list
//! for calls and texts alike (`optout.rs`).

pub mod client;
pub mod optout;
pub mod send;
