//! How many LiveKit jobs this worker holds and may take: its own job limit
//! (`livekit.max_jobs`) and a call slot of the worker's shared capacity (`server.max_calls`,
//! which Twilio streams use too). A [`JobSlot`] is taken when the worker says "available"
//! and given back when dropped, so what LiveKit is told is always the real load.
//!
//! The load is told on livekit-server's scale: the server gives a job only to a worker
//! whose load is under its `agents.target_load` (0.7 by default; psrpc picks no server
//! whose affinity, `target_load - load`, is 0). A worker that said "3 of 4 slots" as 0.75
//! would never be offered its fourth job, so a free slot is reported as that share of the
//! target, and only a full worker as 1.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::control::{CallSlot, Capacity};

use super::wire::WorkerReport;

/// The job limit and the live count.
#[derive(Debug)]
pub(crate) struct Slots {
    max_jobs: u32,
    /// The server's `agents.target_load`: the load of a worker with one slot left is
    /// just under it.
    target_load: f32,
    live: AtomicU32,
    /// The worker's call slots, shared with the other transports.
    calls: Arc<Capacity>,
}

impl Slots {
    pub(crate) fn new(max_jobs: u32, target_load: f32, calls: Arc<Capacity>) -> Arc<Self> {
        Arc::new(Self {
            max_jobs,
            target_load,
            live: AtomicU32::new(0),
            calls,
        })
    }

    /// Jobs held now (including ones offered and not yet assigned).
    pub(crate) fn live(&self) -> u32 {
        self.live.load(Ordering::Acquire)
    }

    /// A slot for one more job, if both limits leave room.
    pub(crate) fn try_take(self: &Arc<Self>) -> Option<JobSlot> {
        let call = self.calls.try_acquire()?;
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                (live < self.max_jobs).then_some(live + 1)
            })
            .ok()?;
        Some(JobSlot {
            slots: self.clone(),
            _call: call,
        })
    }

    /// What to tell LiveKit: full when draining or at either limit.
    pub(crate) fn report(&self, draining: bool) -> WorkerReport {
        let live = self.live();
        let jobs = ratio(live, self.max_jobs);
        let calls = ratio(self.calls.active(), self.calls.capacity());
        let room = live < self.max_jobs && self.calls.free() > 0;
        WorkerReport {
            available: !draining && room,
            load: if room {
                jobs.max(calls) * self.target_load
            } else {
                1.0
            },
            job_count: live,
            draining,
        }
    }
}

fn ratio(used: u32, limit: u32) -> f32 {
    if limit == 0 {
        1.0
    } else {
        (used as f32 / limit as f32).min(1.0)
    }
}

/// One job's share of both limits, given back when dropped.
#[derive(Debug)]
pub(crate) struct JobSlot {
    slots: Arc<Slots>,
    _call: CallSlot,
}

impl Drop for JobSlot {
    fn drop(&mut self) {
        self.slots.live.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_limit_bounds_jobs_and_a_freed_slot_is_available_again() {
        let slots = Slots::new(2, 0.7, Capacity::new(10));
        let first = slots.try_take().unwrap();
        let _second = slots.try_take().unwrap();
        assert!(slots.try_take().is_none());
        let full = slots.report(false);
        assert!(!full.available);
        assert_eq!((full.load, full.job_count), (1.0, 2));
        drop(first);
        let report = slots.report(false);
        assert!(report.available);
        assert_eq!((report.load, report.job_count), (0.35, 1));
    }

    #[test]
    fn calls_on_other_transports_count_against_the_shared_capacity() {
        let calls = Capacity::new(2);
        let slots = Slots::new(10, 0.7, calls.clone());
        let _twilio = calls.try_acquire().unwrap();
        let _job = slots.try_take().unwrap();
        assert!(slots.try_take().is_none(), "max_calls is reached");
        let report = slots.report(false);
        assert!(!report.available);
        assert_eq!(report.load, 1.0);
        // A refused take leaves nothing behind.
        assert_eq!(slots.live(), 1);
    }

    #[test]
    fn a_draining_worker_is_not_available_whatever_its_load() {
        let slots = Slots::new(4, 0.7, Capacity::new(4));
        let report = slots.report(true);
        assert!(!report.available && report.draining);
        assert_eq!(report.load, 0.0);
    }

    #[test]
    fn a_worker_with_a_slot_left_reports_a_load_under_the_servers_target() {
        let slots = Slots::new(4, 0.7, Capacity::new(100));
        let _taken: Vec<JobSlot> = (0..3).map(|_| slots.try_take().unwrap()).collect();
        let report = slots.report(false);
        assert!(report.available);
        assert!(
            report.load < 0.7,
            "3 of 4 jobs: {} must be under 0.7",
            report.load
        );
        let _last = slots.try_take().unwrap();
        let full = slots.report(false);
        assert!(!full.available);
        assert_eq!(full.load, 1.0);
    }
}
