//! Inbound calls: what answers a call to one of our numbers (the assistant on a worker
//! with a free slot, or Twilio alone with a message or a voicemail), the call record it
//! makes, and the contact the caller's number finds. `livekit.rs` provisions the LiveKit
//! side of numbers on `livekit_sip` trunks.

pub mod answer;
pub mod contact;
pub mod livekit;
pub mod livekit_answer;
pub mod twiml;
