//! The voice pipeline: one `Session` per call, from the callee's audio to the agent's.

pub mod clauses;
pub mod config;
pub mod events;
pub mod latency;
pub mod phrases;
pub mod reply;
pub mod session;
pub mod tools;
pub mod turn;
pub mod voicemail;
