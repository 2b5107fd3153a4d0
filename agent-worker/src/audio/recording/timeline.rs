//! The two sides of a call on one timeline of 20 ms slots counted from the media start.
//!
//! Callee and agent frames arrive independently and not quite in order, so the last
//! `window` slots are held open; a slot leaves the window (becoming interleaved stereo
//! PCM in a [`Batch`]) once a frame arrives a window later. A frame for a slot that has
//! already left is late and dropped, a second frame for a filled slot is a duplicate and
//! dropped: neither ever shifts the timeline. A side with no frame in a slot is silence.

use std::collections::VecDeque;

use crate::audio::{mulaw, FRAME_SAMPLES};

/// Bytes of one slot in the file: 160 stereo sample pairs of 16-bit PCM.
pub(super) const SLOT_BYTES: u64 = (FRAME_SAMPLES * 2 * 2) as u64;

/// Which side of the call a frame is from (and its channel in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// Left channel.
    Callee,
    /// Right channel.
    Agent,
}

impl Track {
    fn channel(self) -> usize {
        match self {
            Track::Callee => 0,
            Track::Agent => 1,
        }
    }
}

/// Consecutive slots of interleaved little-endian PCM, ready for the spool file.
#[derive(Debug)]
pub(super) struct Batch {
    pub(super) first_slot: u64,
    pub(super) bytes: Vec<u8>,
}

/// Frames the timeline did not take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelineStats {
    /// For a slot already written out.
    pub late: u64,
    /// For a side of a slot that already had a frame.
    pub duplicate: u64,
    /// Beyond the longest recording kept, or of the wrong length (then still used).
    pub malformed: u64,
}

struct Slot {
    samples: [i16; FRAME_SAMPLES * 2],
    filled: [bool; 2],
}

impl Slot {
    fn silent() -> Self {
        Self {
            samples: [0; FRAME_SAMPLES * 2],
            filled: [false; 2],
        }
    }
}

pub(super) struct Timeline {
    window: u64,
    batch_slots: u64,
    max_slots: u64,
    /// The first slot still held; everything before it has been written out.
    base: u64,
    held: VecDeque<Slot>,
    /// One past the last slot that had audio: the recording's length.
    end: u64,
    out: Vec<u8>,
    out_first: u64,
    ready: VecDeque<Batch>,
    stats: TimelineStats,
}

impl std::fmt::Debug for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeline")
            .field("base", &self.base)
            .field("end", &self.end)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Timeline {
    /// Holds `window` slots open for late frames, emits batches of `batch_slots` and
    /// ignores frames past `max_slots`.
    pub(super) fn new(window: u64, batch_slots: u64, max_slots: u64) -> Self {
        Self {
            window: window.max(1),
            batch_slots: batch_slots.max(1),
            max_slots,
            base: 0,
            held: VecDeque::with_capacity(window as usize),
            end: 0,
            out: Vec::new(),
            out_first: 0,
            ready: VecDeque::new(),
            stats: TimelineStats::default(),
        }
    }

    /// Places one mu-law frame of `track` in `slot`.
    pub(super) fn push(&mut self, track: Track, slot: u64, frame: &[u8]) {
        if slot >= self.max_slots {
            self.stats.malformed += 1;
            return;
        }
        if slot < self.base {
            self.stats.late += 1;
            return;
        }
        if slot >= self.base + self.window {
            self.release_until(slot + 1 - self.window);
        }
        let index = (slot - self.base) as usize;
        while self.held.len() <= index {
            self.held.push_back(Slot::silent());
        }
        let held = &mut self.held[index];
        let channel = track.channel();
        if held.filled[channel] {
            self.stats.duplicate += 1;
            return;
        }
        held.filled[channel] = true;
        if frame.len() != FRAME_SAMPLES {
            self.stats.malformed += 1;
        }
        for (pair, &byte) in held.samples.chunks_exact_mut(2).zip(frame) {
            pair[channel] = mulaw::decode_sample(byte);
        }
        self.end = self.end.max(slot + 1);
    }

    /// The next batch ready for the spool file.
    pub(super) fn take_batch(&mut self) -> Option<Batch> {
        self.ready.pop_front()
    }

    /// Writes out everything held; returns the recording's length in slots.
    pub(super) fn finish(&mut self) -> u64 {
        self.release_until(self.base + self.held.len() as u64);
        self.flush_out();
        self.end
    }

    pub(super) fn stats(&self) -> TimelineStats {
        self.stats
    }

    /// Writes out held slots before `target`. Slots never held (a stretch with no audio
    /// on either side) are skipped: the spool leaves them as zeros, which is silence.
    fn release_until(&mut self, target: u64) {
        while self.base < target {
            let Some(slot) = self.held.pop_front() else {
                self.base = target;
                break;
            };
            self.emit(self.base, &slot);
            self.base += 1;
        }
    }

    fn emit(&mut self, index: u64, slot: &Slot) {
        let contiguous = self.out_first + self.out.len() as u64 / SLOT_BYTES == index;
        if !self.out.is_empty() && !contiguous {
            self.flush_out();
        }
        if self.out.is_empty() {
            self.out_first = index;
            self.out.reserve((self.batch_slots * SLOT_BYTES) as usize);
        }
        // One resize and a fixed-size copy loop: 320 two-byte `extend_from_slice` calls
        // per slot were 6% of a loaded worker.
        let start = self.out.len();
        self.out.resize(start + SLOT_BYTES as usize, 0);
        for (bytes, sample) in self.out[start..].chunks_exact_mut(2).zip(slot.samples) {
            bytes.copy_from_slice(&sample.to_le_bytes());
        }
        if self.out.len() as u64 >= self.batch_slots * SLOT_BYTES {
            self.flush_out();
        }
    }

    fn flush_out(&mut self) {
        if !self.out.is_empty() {
            self.ready.push_back(Batch {
                first_slot: self.out_first,
                bytes: std::mem::take(&mut self.out),
            });
        }
    }
}
