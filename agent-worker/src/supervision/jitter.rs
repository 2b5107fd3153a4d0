//! A jitter buffer for the supervisor's voice on its way to the callee.
//!
//! The agent's audio is paced by the worker ahead of its play time, so the far end always
//! holds some. The supervisor's voice arrives live, over two network hops (browser to
//! control plane to worker), and the far end plays whatever it is sent at once: forwarded
//! frame by frame on arrival, every frame that comes a little late is a gap in the
//! callee's ear. So each stretch of the supervisor's voice is held until [`LEAD_FRAMES`]
//! of it are queued (or nothing more has come for [`IDLE`]: the end of a short word), and
//! from then on each frame goes out as it arrives: the far end keeps that lead while the
//! supervisor talks. Once the far end has played everything sent, the next stretch waits
//! for its lead again.

use bytes::Bytes;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The lead built before a stretch of the supervisor's voice plays (100 ms): latency the
/// callee does not notice, against the jitter of two hops.
pub const LEAD_FRAMES: usize = 5;
/// A stretch shorter than the lead goes out once nothing more has come for this long.
pub const IDLE: Duration = Duration::from_millis(60);
const FRAME: Duration = Duration::from_millis(crate::audio::FRAME_MS);

/// The supervisor's 20 ms frames (8 kHz mu-law) between arrival and the far end.
#[derive(Debug, Default)]
pub struct VoiceBuffer {
    queue: VecDeque<Bytes>,
    /// The current stretch has its lead: frames go out as they come.
    flowing: bool,
    /// When the far end will have played every frame released so far.
    played_by: Option<Instant>,
    /// When the last frame arrived.
    last_in: Option<Instant>,
}

impl VoiceBuffer {
    /// Frames that arrived at `now`.
    pub fn push(&mut self, frames: impl IntoIterator<Item = Bytes>, now: Instant) {
        let before = self.queue.len();
        self.queue.extend(frames);
        if self.queue.len() == before {
            return;
        }
        if before == 0 && self.played_by.is_none_or(|t| t <= now) {
            // The far end ran dry: a new stretch, which waits for its lead.
            self.flowing = false;
        }
        self.last_in = Some(now);
        if self.queue.len() >= LEAD_FRAMES {
            self.flowing = true;
        }
    }

    /// The next frame to send at `now`, if one may go.
    pub fn pop(&mut self, now: Instant) -> Option<Bytes> {
        if !self.flowing && self.deadline().is_some_and(|t| t <= now) {
            self.flowing = true;
        }
        if !self.flowing {
            return None;
        }
        let frame = self.queue.pop_front()?;
        let from = self.played_by.filter(|t| *t > now).unwrap_or(now);
        self.played_by = Some(from + FRAME);
        Some(frame)
    }

    /// When a held stretch goes out though nothing more arrives (a short word's end).
    pub fn deadline(&self) -> Option<Instant> {
        if self.flowing || self.queue.is_empty() {
            return None;
        }
        self.last_in.map(|t| t + IDLE)
    }

    /// Everything queued may go at once (the supervisor handed back: their last words).
    pub fn flush(&mut self) {
        if !self.queue.is_empty() {
            self.flowing = true;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Forgets everything (a new take-over).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(n: usize) -> Vec<Bytes> {
        (0..n).map(|i| Bytes::from(vec![i as u8; 160])).collect()
    }

    fn ms(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn a_stretch_waits_for_its_lead_then_each_frame_goes_as_it_comes() {
        let t0 = Instant::now();
        let mut buffer = VoiceBuffer::default();
        for i in 0..LEAD_FRAMES as u64 - 1 {
            buffer.push(frames(1), ms(t0, 20 * i));
            assert_eq!(
                buffer.pop(ms(t0, 20 * i)),
                None,
                "frame {i} went before the lead"
            );
        }
        let at = ms(t0, 20 * (LEAD_FRAMES as u64 - 1));
        buffer.push(frames(1), at);
        let released: Vec<_> = std::iter::from_fn(|| buffer.pop(at)).collect();
        assert_eq!(released.len(), LEAD_FRAMES);
        // Flowing now: the next frame goes out at once, the far end still has the lead.
        buffer.push(frames(1), ms(t0, 100));
        assert!(buffer.pop(ms(t0, 100)).is_some());
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_short_word_goes_out_once_nothing_more_comes() {
        let t0 = Instant::now();
        let mut buffer = VoiceBuffer::default();
        buffer.push(frames(2), t0);
        assert_eq!(buffer.pop(ms(t0, 30)), None);
        assert_eq!(buffer.deadline(), Some(t0 + IDLE));
        assert!(buffer.pop(t0 + IDLE).is_some());
        assert!(buffer.pop(t0 + IDLE).is_some());
        assert_eq!(buffer.pop(t0 + IDLE), None);
    }

    #[test]
    fn after_the_far_end_runs_dry_the_next_stretch_builds_its_lead_again() {
        let t0 = Instant::now();
        let mut buffer = VoiceBuffer::default();
        buffer.push(frames(LEAD_FRAMES), t0);
        while buffer.pop(t0).is_some() {}
        // Still playing what was sent (100 ms): a frame now keeps flowing.
        buffer.push(frames(1), ms(t0, 50));
        assert!(buffer.pop(ms(t0, 50)).is_some());
        // Long after all of it played: held for a new lead.
        buffer.push(frames(1), ms(t0, 1_000));
        assert_eq!(buffer.pop(ms(t0, 1_000)), None);
        buffer.flush();
        assert!(buffer.pop(ms(t0, 1_000)).is_some());
    }
}
