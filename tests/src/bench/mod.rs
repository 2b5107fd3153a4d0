//! Benchmarks that drive the real product through the emulators.

pub mod stats;
pub mod voice;
