//! Benchmarks that drive the real product through the emulators.

pub mod frame_ledger;
pub mod livekit;
pub mod livekit_callee;
pub mod stages;
pub mod stats;
pub mod voice;
