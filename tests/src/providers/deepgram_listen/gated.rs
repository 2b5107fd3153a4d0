//! The speech-code decoder behind a silence gate: long runs of quiet audio (what a phone
//! line carries between turns) are not decoded at all, which is most of a call's CPU.
//!
//! The gate changes no result. The decoder ignores any window quieter than -55 dBFS, and a
//! sample peak at or below [`QUIET_PEAK`] keeps every window under that. So once the input
//! has been quiet for longer than a preamble ([`GATE_MS`]) and no utterance is being read,
//! no position the decoder could still test can match, and decoding is parked. When sound
//! returns, a fresh decoder is fed the last [`GATE_MS`] of audio first, so every position
//! that could be part of the new utterance is tested on exactly the samples the parked
//! decoder would have seen, starting on the same 1 ms search grid (the decoder tests one
//! position per millisecond, so a shifted grid would find sync a few samples off);
//! positions are shifted back to the stream's clock.

use crate::speech_code::alphabet::Timing;
use crate::speech_code::{DecodeEvent, Decoder};
use std::collections::VecDeque;

/// Highest peak that still reads as silence: 58/32768 is below the decoder's -55 dBFS
/// mean-square floor whatever the waveform.
pub(super) const QUIET_PEAK: u16 = 58;
/// Longer than the preamble's analysis span (115 ms) with a wide margin.
const GATE_MS: u64 = 250;

/// Whether a piece of audio is below the decoder's silence floor throughout.
pub(super) fn is_quiet(samples: &[i16]) -> bool {
    samples.iter().all(|s| s.unsigned_abs() <= QUIET_PEAK)
}

/// A decoder that skips what cannot matter. Positions are samples since the stream began.
#[derive(Debug)]
pub(crate) struct GatedDecoder {
    rate: u32,
    enabled: bool,
    decoder: Decoder,
    /// Stream position of the current decoder's first sample.
    base: u64,
    /// The last `GATE_MS` of input, replayed into a fresh decoder.
    tail: VecDeque<i16>,
    tail_len: usize,
    /// Quiet samples in a row, up to the end of the input so far.
    quiet_run: u64,
    parked: bool,
    received: u64,
    skipped: u64,
}

impl GatedDecoder {
    pub(crate) fn new(rate: u32, enabled: bool) -> Self {
        let tail_len = (u64::from(rate) * GATE_MS / 1000) as usize;
        GatedDecoder {
            rate,
            enabled,
            decoder: Decoder::new(rate),
            base: 0,
            tail: VecDeque::with_capacity(tail_len + 1024),
            tail_len,
            quiet_run: 0,
            parked: false,
            received: 0,
            skipped: 0,
        }
    }

    /// Feeds the next samples; returns the events they completed.
    pub(crate) fn push(&mut self, samples: &[i16]) -> Vec<DecodeEvent> {
        let quiet = is_quiet(samples);
        let mut events = Vec::new();
        let park = self.enabled
            && quiet
            && !self.decoder.in_utterance()
            && self.quiet_run >= self.tail_len as u64;
        if park {
            self.parked = true;
            self.skipped += samples.len() as u64;
        } else {
            if self.parked {
                self.resume();
            }
            events.extend(self.decoder.push(samples));
        }
        if self.enabled {
            self.tail.extend(samples);
            let excess = self.tail.len().saturating_sub(self.tail_len);
            self.tail.drain(..excess);
        }
        self.quiet_run = if quiet {
            self.quiet_run + samples.len() as u64
        } else {
            0
        };
        self.received += samples.len() as u64;
        self.shift(events)
    }

    /// Swaps in a fresh decoder fed with the quiet tail, aligned to the parked decoder's
    /// search grid.
    fn resume(&mut self) {
        self.parked = false;
        let step = (Timing { rate: self.rate }.samples(1.0) as u64).max(1);
        let next = self.base + self.decoder.search_position().unwrap_or(0);
        let tail_start = self.received - self.tail.len() as u64;
        let skip = (next % step + step - tail_start % step) % step;
        self.decoder = Decoder::new(self.rate);
        self.base = tail_start + skip;
        let tail: Vec<i16> = self.tail.iter().skip(skip as usize).copied().collect();
        // The tail is quiet: it can complete nothing, only set the decoder's clock.
        let _ = self.decoder.push(&tail);
    }

    /// Ends the input: an utterance being read is reported as truncated.
    pub(super) fn finish(&mut self) -> Vec<DecodeEvent> {
        let events = self.decoder.finish();
        self.shift(events)
    }

    fn shift(&self, mut events: Vec<DecodeEvent>) -> Vec<DecodeEvent> {
        for event in &mut events {
            match event {
                DecodeEvent::Utterance(u) => {
                    u.start_sample += self.base;
                    u.end_sample += self.base;
                }
                DecodeEvent::Error(e) => {
                    e.start_sample += self.base;
                    e.end_sample += self.base;
                }
            }
        }
        events
    }

    /// Where the utterance being read started, on the stream's clock.
    pub(crate) fn utterance_start(&self) -> Option<u64> {
        self.decoder.utterance_start().map(|s| s + self.base)
    }

    /// Samples not decoded because they could not change anything.
    pub(super) fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::mulaw;
    use crate::speech_code::encode;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// Silence, clean utterances, a damaged one and quiet hiss, in random order.
    fn session(seed: u64) -> Vec<i16> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut audio = Vec::new();
        for i in 0..8 {
            audio.extend(vec![0i16; rng.gen_range(0..6000)]);
            let mut utterance = encode(&format!("turn token-{i}"), 8000).expect("ascii");
            if i % 3 == 2 {
                let at = utterance.len() / 2;
                utterance[at..at + 160]
                    .iter_mut()
                    .for_each(|s| *s = rng.gen_range(-6000..6000));
            }
            audio.extend(utterance);
            audio.extend((0..rng.gen_range(0..3000)).map(|_| rng.gen_range(-40i16..40)));
        }
        mulaw::decode(&mulaw::encode(&audio))
    }

    fn run(audio: &[i16], enabled: bool) -> (Vec<DecodeEvent>, u64) {
        let mut gated = GatedDecoder::new(8000, enabled);
        let mut events = Vec::new();
        for piece in audio.chunks(160) {
            events.extend(gated.push(piece));
        }
        events.extend(gated.finish());
        (events, gated.skipped())
    }

    #[test]
    fn the_gate_changes_no_event_and_skips_the_silence() {
        for seed in 0..6 {
            let audio = session(seed);
            let (plain, _) = run(&audio, false);
            let (gated, skipped) = run(&audio, true);
            assert_eq!(plain, gated, "seed {seed}");
            assert!(plain.len() >= 8, "seed {seed}: {plain:?}");
            assert!(skipped > 0, "seed {seed}");
        }
    }
}
