//! The voice pipeline: one `Session` per call, from the callee's audio to the agent's.

pub mod clauses;
pub mod config;
pub mod latency;
pub mod phrases;
pub mod reply;
pub mod tools;
pub mod turn;
pub mod voicemail;
