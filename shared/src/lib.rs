//! Contracts between the control plane and the agent workers.
//!
//! Everything both sides must spell the same way lives here: E.164 phone numbers, the
//! call status and attempt result enums, call outcomes, the one telemetry setup, and the
//! recordings store both sides open from the same URL.

pub mod assistant;
pub mod events;
pub mod job;
pub mod phone;
pub mod status;
pub mod storage;
pub mod supervision;
pub mod telemetry;
pub mod template;
pub mod token;

pub use phone::{PhoneError, PhoneNumber};
pub use status::{AttemptResult, CallOutcome, CallStatus};
