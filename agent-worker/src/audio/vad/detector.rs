//! [`SpeechDetector`]: speech start and end with hysteresis over the VAD's raw per-frame
//! verdicts. A start needs enough speech within a short window, so a click or a cough does
//! not count as the callee talking; an end needs a long run of non-speech, so the pauses
//! between words do not end a turn.

use serde::{Deserialize, Serialize};

use super::{FrameLengthError, Vad, VadMode};
use crate::audio::FRAME_MS;

/// Thresholds of a [`SpeechDetector`]. Durations are rounded up to whole 20 ms frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VadConfig {
    /// The VAD's aggressiveness.
    pub mode: VadMode,
    /// Speech starts once this much of the last `onset_window_ms` was speech.
    pub onset_speech_ms: u64,
    /// The window the onset is judged over (at most 1280 ms).
    pub onset_window_ms: u64,
    /// Speech ends after this much continuous non-speech.
    pub end_silence_ms: u64,
    /// How much audio (not counting digital silence) the VAD hears before its verdicts
    /// count; see [`Vad::with_warmup`].
    pub warmup_ms: u64,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            mode: VadMode::Aggressive,
            onset_speech_ms: 60,
            onset_window_ms: 80,
            end_silence_ms: 500,
            warmup_ms: 160,
        }
    }
}

/// The window is a bit mask of recent verdicts, newest in bit 0.
const MAX_WINDOW_FRAMES: u32 = u64::BITS;

/// A change in whether the callee is speaking, on the frame clock (frames pushed x 20 ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechEvent {
    /// Speech began at `at_ms`: the start of the first speech frame of the run that
    /// crossed the onset threshold, so it is reported up to a window later.
    SpeechStart { at_ms: u64 },
    /// The silence that ends speech reached `end_silence_ms` at `at_ms`; the last speech
    /// frame ended `end_silence_ms` earlier.
    SpeechEnd { at_ms: u64 },
}

/// Speech start/end events from one call's inbound frames, one frame at a time.
#[derive(Debug)]
pub struct SpeechDetector {
    vad: Vad,
    onset_frames: u32,
    window_frames: u32,
    end_frames: u32,
    /// The raw verdicts of the last `window_frames` frames, newest in bit 0.
    window: u64,
    /// Frames pushed so far: the detector's clock.
    frames: u64,
    /// Non-speech frames since the last speech frame, while speaking.
    silence_run: u32,
    speaking: bool,
    last_verdict: bool,
}

impl SpeechDetector {
    /// A detector with `config`'s thresholds; nonsensical ones are clamped (at least one
    /// frame each, the onset no longer than its window).
    pub fn new(config: &VadConfig) -> Self {
        let frames = |ms: u64| ms.div_ceil(FRAME_MS).min(u64::from(u32::MAX)) as u32;
        let window_frames = frames(config.onset_window_ms).clamp(1, MAX_WINDOW_FRAMES);
        Self {
            vad: Vad::with_warmup(config.mode, frames(config.warmup_ms)),
            onset_frames: frames(config.onset_speech_ms).clamp(1, window_frames),
            window_frames,
            end_frames: frames(config.end_silence_ms).max(1),
            window: 0,
            frames: 0,
            silence_run: 0,
            speaking: false,
            last_verdict: false,
        }
    }

    /// Judges the next 20 ms mu-law frame; returns the event it causes, if any.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<SpeechEvent>, FrameLengthError> {
        let verdict = self.vad.is_speech(frame)?;
        Ok(self.advance(verdict))
    }

    /// Like [`push`](Self::push) for a frame already decoded to linear samples.
    pub fn push_pcm(&mut self, samples: &[i16]) -> Result<Option<SpeechEvent>, FrameLengthError> {
        let verdict = self.vad.is_speech_pcm(samples)?;
        Ok(self.advance(verdict))
    }

    /// The hysteresis: one raw verdict in, at most one event out.
    pub(super) fn advance(&mut self, verdict: bool) -> Option<SpeechEvent> {
        let index = self.frames;
        self.frames += 1;
        self.last_verdict = verdict;
        let mask = if self.window_frames == MAX_WINDOW_FRAMES {
            u64::MAX
        } else {
            (1u64 << self.window_frames) - 1
        };
        self.window = ((self.window << 1) | u64::from(verdict)) & mask;
        if self.speaking {
            if verdict {
                self.silence_run = 0;
                return None;
            }
            self.silence_run += 1;
            if self.silence_run < self.end_frames {
                return None;
            }
            self.speaking = false;
            self.silence_run = 0;
            // Speech before the end must not count towards the next onset.
            self.window = 0;
            return Some(SpeechEvent::SpeechEnd {
                at_ms: self.frames * FRAME_MS,
            });
        }
        if self.window.count_ones() < self.onset_frames {
            return None;
        }
        self.speaking = true;
        self.silence_run = 0;
        // The oldest speech frame still in the window began the run.
        let oldest_age = u64::from(u64::BITS - 1 - self.window.leading_zeros());
        Some(SpeechEvent::SpeechStart {
            at_ms: (index - oldest_age) * FRAME_MS,
        })
    }

    /// Whether the callee is speaking, as of the last frame.
    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// The VAD's verdict on the last frame, before hysteresis.
    pub fn last_frame_is_speech(&self) -> bool {
        self.last_verdict
    }

    /// The frame clock: milliseconds of audio pushed so far.
    pub fn now_ms(&self) -> u64 {
        self.frames * FRAME_MS
    }

    /// How much continuous non-speech ends speech (after rounding to frames).
    pub fn end_silence_ms(&self) -> u64 {
        u64::from(self.end_frames) * FRAME_MS
    }
}
