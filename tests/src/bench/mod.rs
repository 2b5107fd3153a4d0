//! Benchmarks that drive the real product through the emulators.

pub mod stages;
pub mod stats;
pub mod voice;
