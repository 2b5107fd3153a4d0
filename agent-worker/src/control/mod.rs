//! The worker's side of the control plane's internal API: [`ControlPlane`] fetches a
//! call's job, [`EventReporter`] delivers a call's events in order and exactly once
//! through control-plane restarts, and the [`heartbeat`] tells the control plane how many
//! calls this worker can take.

mod backlog;
pub mod client;
mod delivery;
pub mod heartbeat;
pub mod reporter;
#[cfg(test)]
mod tests;

pub use client::{ControlError, ControlPlane};
pub use heartbeat::{CallSlot, Capacity, Heartbeat, HeartbeatConfig};
pub use reporter::{EventReporter, ReporterClosed, ReporterConfig, ReporterStats};
