//! The agent's audio waiting for the wire. The pipeline's pacer sends a little ahead of
//! real time; the room sends one frame per 20 ms tick of its [`SendClock`] from this
//! queue, so a barge-in's `clear` drops only what has not gone out, and a mark comes back
//! (as a Twilio mark does) when the audio before it has been sent, or was cleared.
//!
//! The send clock keeps what is on the wire within [`MAX_CATCH_UP`] frames of real time.
//! livekit-sip's mixer holds up to five frames of a track and plays them at real time:
//! every frame sent ahead of its time waits there, and the callee hears a barge-in's stop
//! that much later.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// One entry of the queue.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Frame(Bytes),
    Mark(String),
}

/// What one tick takes from the queue.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Tick {
    /// The frame to send now; `None` means silence.
    pub(super) frame: Option<Bytes>,
    /// Marks whose audio has now all been sent.
    pub(super) marks: Vec<String>,
}

/// Frames and marks in the order the pipeline sent them.
#[derive(Debug, Default)]
pub(super) struct Playout {
    queue: VecDeque<Item>,
    frames: usize,
}

impl Playout {
    pub(super) fn push_frame(&mut self, frame: Bytes) {
        self.frames += 1;
        self.queue.push_back(Item::Frame(frame));
    }

    pub(super) fn push_mark(&mut self, name: String) {
        self.queue.push_back(Item::Mark(name));
    }

    /// Frames not sent yet.
    pub(super) fn frames(&self) -> usize {
        self.frames
    }

    /// Takes the next frame and the marks reached before and right after it.
    pub(super) fn tick(&mut self) -> Tick {
        let mut tick = Tick::default();
        while let Some(item) = self.queue.pop_front() {
            match item {
                Item::Mark(name) => tick.marks.push(name),
                Item::Frame(frame) if tick.frame.is_none() => {
                    self.frames -= 1;
                    tick.frame = Some(frame);
                }
                Item::Frame(frame) => {
                    self.queue.push_front(Item::Frame(frame));
                    break;
                }
            }
        }
        tick
    }

    /// Drops every unsent frame; returns the marks, which count as played.
    pub(super) fn clear(&mut self) -> Vec<String> {
        self.frames = 0;
        self.queue
            .drain(..)
            .filter_map(|item| match item {
                Item::Mark(name) => Some(name),
                Item::Frame(_) => None,
            })
            .collect()
    }
}

/// The audio clock.
pub(super) const FRAME: Duration = Duration::from_millis(20);
/// Frames a late wake-up may still send at once to catch up; further behind, the clock
/// restarts from now.
pub(super) const MAX_CATCH_UP: u32 = 2;

/// When the next frames go out: frame `n` of a run is due at `origin + n x 20 ms`.
///
/// A wake-up a little late (the runtime busy, up to [`MAX_CATCH_UP`] frames) sends the
/// frames missed, so a receiver's buffer does not run dry for a hiccup. A longer stall does
/// not send its backlog in a burst (as `MissedTickBehavior::Burst` did): those frames
/// would sit in livekit-sip's mixer ahead of real time for the rest of the call, and every
/// later frame, a barge-in's last one included, would reach the callee that much later.
/// The missed ticks are skipped instead (the callee hears the stall as a gap, which it
/// would have been anyway) and the clock restarts.
#[derive(Debug, Clone)]
pub(super) struct SendClock {
    next: Instant,
}

/// What a wake-up of the clock asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Due {
    /// Frames to send now.
    pub(super) frames: u32,
    /// Ticks dropped by a restart: their RTP time passes with nothing sent.
    pub(super) skipped: u32,
}

impl SendClock {
    /// A clock whose first frame is due at `start`.
    pub(super) fn new(start: Instant) -> Self {
        Self { next: start }
    }

    /// When the next frame is due.
    pub(super) fn next_due(&self) -> Instant {
        self.next
    }

    /// The frames due at `now` (none if it is early), and the ticks a long stall skips.
    pub(super) fn due(&mut self, now: Instant) -> Due {
        if now < self.next {
            return Due::default();
        }
        let late = now.duration_since(self.next);
        let owed = u32::try_from(late.as_nanos() / FRAME.as_nanos())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        if owed <= 1 + MAX_CATCH_UP {
            self.next += FRAME * owed;
            return Due {
                frames: owed,
                skipped: 0,
            };
        }
        // Too far behind: one frame now, the rest of the backlog is a gap.
        self.next = now + FRAME;
        Due {
            frames: 1,
            skipped: owed - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_clock_sends_one_frame_per_20_ms_on_time() {
        let start = Instant::now();
        let mut clock = SendClock::new(start);
        assert_eq!(clock.due(start).frames, 1);
        // Early: nothing.
        assert_eq!(clock.due(start + ms(10)), Due::default());
        assert_eq!(clock.next_due(), start + ms(20));
        // A few ms late: one frame, and the schedule keeps its origin.
        assert_eq!(clock.due(start + ms(23)).frames, 1);
        assert_eq!(clock.next_due(), start + ms(40));
    }

    #[test]
    fn a_short_stall_catches_up_and_a_long_one_is_skipped_not_burst() {
        let start = Instant::now();
        let mut clock = SendClock::new(start);
        clock.due(start);
        // Due at 20, woken at 65: the frames of 20, 40 and 60 go out.
        assert_eq!(
            clock.due(start + ms(65)),
            Due {
                frames: 3,
                skipped: 0
            }
        );
        assert_eq!(clock.next_due(), start + ms(80));
        // Due at 80, woken at 200: frames of 80..=200 are owed (7); one goes, six are a gap.
        assert_eq!(
            clock.due(start + ms(200)),
            Due {
                frames: 1,
                skipped: 6
            }
        );
        // The clock restarted at the wake-up: nothing more is owed until 220.
        assert_eq!(clock.next_due(), start + ms(220));
        assert_eq!(clock.due(start + ms(219)), Due::default());
        assert_eq!(clock.due(start + ms(220)).frames, 1);
    }

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n; 160])
    }

    #[test]
    fn marks_come_back_once_the_audio_before_them_went_out() {
        let mut playout = Playout::default();
        playout.push_frame(frame(1));
        playout.push_frame(frame(2));
        playout.push_mark("a".into());
        playout.push_frame(frame(3));
        playout.push_mark("b".into());
        assert_eq!(playout.frames(), 3);
        let first = playout.tick();
        assert_eq!(first.frame, Some(frame(1)));
        assert!(first.marks.is_empty());
        assert_eq!(playout.tick().marks, vec!["a".to_string()]);
        let third = playout.tick();
        assert_eq!(third.frame, Some(frame(3)));
        assert_eq!(third.marks, vec!["b".to_string()]);
        assert_eq!(playout.tick(), Tick::default());
    }

    #[test]
    fn clear_drops_unsent_frames_and_returns_their_marks() {
        let mut playout = Playout::default();
        playout.push_frame(frame(1));
        playout.push_mark("a".into());
        playout.push_frame(frame(2));
        playout.push_mark("b".into());
        let first = playout.tick();
        assert_eq!(first.frame, Some(frame(1)));
        assert_eq!(first.marks, vec!["a".to_string()]);
        assert_eq!(playout.clear(), vec!["b".to_string()]);
        assert_eq!(playout.frames(), 0);
        assert_eq!(playout.tick(), Tick::default());
    }
}
