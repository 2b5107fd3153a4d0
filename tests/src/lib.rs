//! End-to-end harness, simulators (Twilio, providers) and benchmark tools.

pub mod audio;
pub mod speech_code;
pub mod twilio;
