//! The voice pipeline: one `Session` per call, from the callee's audio to the agent's.

pub mod clauses;
pub mod reply;
pub mod tools;
