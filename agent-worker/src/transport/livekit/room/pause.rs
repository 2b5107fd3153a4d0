//! The agent's track pauses while the agent has nothing to say, as WebRTC's DTX does: the
//! agent is silent about half of a call, and every silent packet costs an Opus encode,
//! SRTP and a send here, forwarding in livekit-server and a decode at the receiver.
//!
//! After [`QUIET_TICKS_BEFORE_PAUSE`] ticks with nothing queued (silence goes out meanwhile:
//! the codec's look-ahead drains and the receiver's concealment ends on quiet), no packet
//! is sent until the agent speaks again. Not before the agent's first frame, though: a
//! receiver built on pion (livekit-sip) sets a track up when its first packet arrives,
//! so silence goes out from the join until the first message, as it always did, rather
//! than have the first message's first packets wait on that set-up. The RTP clock runs on through the pause, so the
//! receiver sees how long it was, and the first packet after it is marked as the start of
//! a talkspurt (RFC 3551). livekit-sip's mixer plays silence for a track that sends
//! nothing, as it does for browsers' DTX.

/// Ticks of silence sent before the track pauses (100 ms): the first one or two still
/// carry the codec's decay of the last word at the receiver, so a receiver sees at least
/// three quiet frames, more than the dips inside speech, before the track goes still.
pub(super) const QUIET_TICKS_BEFORE_PAUSE: u32 = 5;

/// What one tick of the send clock does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TickSend {
    /// Encode and send a packet; `talkspurt` marks the first one after a pause.
    Packet { talkspurt: bool },
    /// Send nothing: the track is paused (its RTP time still passes).
    Pause,
}

/// Counts the ticks with nothing queued.
#[derive(Debug, Default)]
pub(super) struct SilencePause {
    enabled: bool,
    /// The agent has sent a frame: the receiver has the track set up.
    spoken: bool,
    quiet_ticks: u32,
    paused: bool,
}

impl SilencePause {
    /// `enabled` false: every tick sends a packet, silence included.
    pub(super) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// One tick; `has_frame` says whether the agent had a frame queued for it.
    pub(super) fn tick(&mut self, has_frame: bool) -> TickSend {
        if has_frame {
            self.quiet_ticks = 0;
            self.spoken = true;
        } else {
            self.quiet_ticks = self.quiet_ticks.saturating_add(1);
        }
        if self.enabled && self.spoken && self.quiet_ticks > QUIET_TICKS_BEFORE_PAUSE {
            self.paused = true;
            return TickSend::Pause;
        }
        TickSend::Packet {
            talkspurt: std::mem::take(&mut self.paused),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_track_pauses_after_a_few_quiet_ticks_and_marks_the_next_talkspurt() {
        let mut pause = SilencePause::new(true);
        let plain = TickSend::Packet { talkspurt: false };
        assert_eq!(pause.tick(true), plain);
        for _ in 0..QUIET_TICKS_BEFORE_PAUSE {
            assert_eq!(pause.tick(false), plain, "silence still goes out first");
        }
        assert_eq!(pause.tick(false), TickSend::Pause);
        assert_eq!(pause.tick(false), TickSend::Pause);
        assert_eq!(pause.tick(true), TickSend::Packet { talkspurt: true });
        assert_eq!(pause.tick(true), plain);
        // A short quiet between words is sent as it is.
        assert_eq!(pause.tick(false), plain);
        assert_eq!(pause.tick(true), plain);
    }

    #[test]
    fn silence_goes_out_until_the_agent_has_spoken_once() {
        let mut pause = SilencePause::new(true);
        for _ in 0..100 {
            assert_eq!(pause.tick(false), TickSend::Packet { talkspurt: false });
        }
        pause.tick(true);
        for _ in 0..QUIET_TICKS_BEFORE_PAUSE {
            pause.tick(false);
        }
        assert_eq!(pause.tick(false), TickSend::Pause);
    }

    #[test]
    fn disabled_every_tick_sends() {
        let mut pause = SilencePause::new(false);
        for _ in 0..100 {
            assert_eq!(pause.tick(false), TickSend::Packet { talkspurt: false });
        }
    }
}
