//! End-to-end harness, simulators (Twilio, providers) and benchmark tools.
//!
//! - [`contacts_csv`]: a deterministic contact CSV of any size, generated as a stream.
//! - [`process`]: starting a real control-plane binary and watching its memory.

pub mod contacts_csv;
pub mod process;
