//! The outbound pacer: when the next 20 ms frame may be sent.
//!
//! The far end (Twilio, or a jitter buffer) plays frames on its own clock. Sending in
//! bursts stutters; sending too late leaves gaps; sending far ahead makes a barge-in
//! `clear` throw away a lot and makes "what was heard" vague. So frames go out on a
//! real-time clock, `lead` ahead of their play time: the first `lead` worth at once, then
//! one every 20 ms. After an underrun (everything sent has played) the clock restarts.

use super::FRAME_MS;
use std::time::{Duration, Instant};

const FRAME: Duration = Duration::from_millis(FRAME_MS);

/// Pacing state for one call's outbound audio.
#[derive(Debug, Clone)]
pub struct Pacer {
    /// How far ahead of its play time a frame is sent.
    lead: Duration,
    /// Play time of the first frame since the clock (re)started.
    origin: Option<Instant>,
    /// Frames sent since `origin`.
    sent: u32,
}

impl Pacer {
    /// A pacer sending `lead` ahead of real time (rounded down to whole frames, at least one).
    pub fn new(lead: Duration) -> Self {
        Pacer {
            lead: lead.max(FRAME),
            origin: None,
            sent: 0,
        }
    }

    /// When the next frame is due; `None` when the clock is stopped (send at once).
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        self.next_due_for(now, 1)
    }

    /// When the next `frames` frames (one message) are due: once sending them keeps the
    /// far end's buffer within `lead`. `None` when the clock is stopped (send at once).
    pub fn next_due_for(&self, now: Instant, frames: u32) -> Option<Instant> {
        let origin = self.origin?;
        if self.underrun(now) {
            return None;
        }
        let end = origin + FRAME * (self.sent + frames.max(1));
        Some(end.checked_sub(self.lead).unwrap_or(origin))
    }

    /// Whether a frame may be sent at `now`.
    pub fn may_send(&self, now: Instant) -> bool {
        self.may_send_frames(now, 1)
    }

    /// Whether a message of `frames` frames may be sent at `now`.
    pub fn may_send_frames(&self, now: Instant, frames: u32) -> bool {
        self.next_due_for(now, frames).is_none_or(|due| due <= now)
    }

    /// Records that a frame was sent at `now`.
    pub fn sent(&mut self, now: Instant) {
        self.sent_frames(now, 1);
    }

    /// Records that a message of `frames` frames was sent at `now`.
    pub fn sent_frames(&mut self, now: Instant, frames: u32) {
        if self.origin.is_none() || self.underrun(now) {
            self.origin = Some(now);
            self.sent = 0;
        }
        self.sent += frames;
    }

    /// Whether the far end has played everything sent (its buffer ran dry).
    pub fn underrun(&self, now: Instant) -> bool {
        match self.origin {
            Some(origin) => now >= origin + FRAME * self.sent,
            None => true,
        }
    }

    /// How much sent audio the far end still holds at `now`.
    pub fn buffered(&self, now: Instant) -> Duration {
        match self.origin {
            Some(origin) => (origin + FRAME * self.sent).saturating_duration_since(now),
            None => Duration::ZERO,
        }
    }

    /// Forgets the clock (after a `clear` the far end holds nothing).
    pub fn reset(&mut self) {
        self.origin = None;
        self.sent = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_the_lead_at_once_then_one_frame_per_period() {
        let start = Instant::now();
        let mut pacer = Pacer::new(Duration::from_millis(60));
        let mut now = start;
        let mut burst = 0;
        while pacer.may_send(now) {
            pacer.sent(now);
            burst += 1;
        }
        assert_eq!(burst, 3);
        // Over the next second exactly 50 more frames become due.
        let mut sent = 0;
        for _ in 0..1000 {
            now += Duration::from_millis(1);
            while pacer.may_send(now) {
                pacer.sent(now);
                sent += 1;
            }
        }
        assert_eq!(sent, 50);
        assert_eq!(pacer.buffered(now), Duration::from_millis(60));
    }

    #[test]
    fn messages_of_three_frames_keep_the_same_rate_within_the_lead() {
        let start = Instant::now();
        let mut pacer = Pacer::new(Duration::from_millis(200));
        let mut now = start;
        let mut messages = 0;
        for _ in 0..1000 {
            while pacer.may_send_frames(now, 3) {
                pacer.sent_frames(now, 3);
                messages += 1;
                // Never more than the lead ahead of the ear.
                assert!(pacer.buffered(now) <= Duration::from_millis(200));
            }
            // Never less than a message's worth (no gap while the next one waits).
            assert!(pacer.buffered(now) > Duration::from_millis(140));
            now += Duration::from_millis(1);
        }
        // A burst of three messages (180 ms, the most within the 200 ms lead), then one
        // every 60 ms from 40 ms on: 16 more in the first second.
        assert_eq!(messages, 3 + 16);
    }

    #[test]
    fn the_clock_restarts_after_an_underrun_and_a_reset() {
        let start = Instant::now();
        let mut pacer = Pacer::new(Duration::from_millis(40));
        pacer.sent(start);
        let later = start + Duration::from_millis(500);
        assert!(pacer.underrun(later));
        assert!(pacer.may_send(later));
        pacer.sent(later);
        assert_eq!(pacer.buffered(later), Duration::from_millis(20));
        pacer.reset();
        assert!(pacer.may_send(later));
        assert_eq!(pacer.buffered(later), Duration::ZERO);
    }
}
