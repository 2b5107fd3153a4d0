//! Voice activity detection on the phone's 20 ms mu-law frames: [`Vad`] is WebRTC's
//! detector (libfvad, through the `webrtc-vad` crate) giving a raw verdict per frame;
//! [`SpeechDetector`] turns those verdicts into speech start and end events with
//! hysteresis, which is what turn detection and barge-in listen to.

mod detector;
#[cfg(test)]
mod tests;

pub use detector::{SpeechDetector, SpeechEvent, VadConfig};

use serde::{Deserialize, Serialize};

use super::{mulaw, FRAME_SAMPLES};

/// How readily the detector calls a frame speech. Higher modes say "speech" less often:
/// fewer false alarms from line noise, more missed quiet speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VadMode {
    /// libfvad mode 0: the most speech, the most false alarms.
    Quality,
    /// Mode 1.
    LowBitrate,
    /// Mode 2, the default: phone lines are noisy, and a false start interrupts the agent.
    #[default]
    Aggressive,
    /// Mode 3: the fewest false alarms, the most missed quiet speech.
    VeryAggressive,
}

impl VadMode {
    fn to_webrtc(self) -> webrtc_vad::VadMode {
        match self {
            VadMode::Quality => webrtc_vad::VadMode::Quality,
            VadMode::LowBitrate => webrtc_vad::VadMode::LowBitrate,
            VadMode::Aggressive => webrtc_vad::VadMode::Aggressive,
            VadMode::VeryAggressive => webrtc_vad::VadMode::VeryAggressive,
        }
    }
}

/// A frame the detector cannot judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a VAD frame must be {FRAME_SAMPLES} samples (20 ms at 8 kHz), got {0}")]
pub struct FrameLengthError(pub usize);

/// libfvad's state, made `Send` so a call's session can move between runtime threads.
struct SendVad(webrtc_vad::Vad);

// SAFETY: `webrtc_vad::Vad` is `!Send` only because it holds a raw pointer to libfvad's
// `Fvad` state, which it allocates itself, frees in `Drop` and never shares. libfvad keeps
// no thread-local or global mutable state and has no thread affinity: the struct is plain
// heap memory that any thread may use, as long as one thread at a time does. Moving the
// owner to another thread keeps that true; `Sync` is not implemented, so `&SendVad` never
// crosses threads and every call into C goes through `&mut self`.
#[allow(unsafe_code)]
unsafe impl Send for SendVad {}

/// Audio frames (not digital silence) heard before verdicts count, by default.
const DEFAULT_WARMUP_FRAMES: u32 = 8;

/// A frame at or below this mean square (RMS 10, about -70 dBFS) does not count towards
/// the warm-up. libfvad's own gate is lower (it models any frame that is not all zeros),
/// so the warm-up may last longer than libfvad's settling, never shorter.
const WARMUP_MEAN_SQUARE: i64 = 100;

/// WebRTC's VAD for 8 kHz, 20 ms mu-law frames.
///
/// libfvad initialises its noise model from the first frames that carry any signal and
/// calls about 100 ms of them speech whatever they hold (even -70 dBFS hiss, and again
/// after leading digital silence). So the first frames with signal are a warm-up: the
/// model learns from them, and they are reported as non-speech.
pub struct Vad {
    inner: SendVad,
    /// Frames with signal still to hear before verdicts count.
    warmup_left: u32,
    /// Decoded samples of the current frame, reused so judging a frame allocates nothing.
    pcm: Vec<i16>,
}

impl std::fmt::Debug for Vad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vad")
    }
}

impl Vad {
    /// A detector in `mode`, for 8 kHz audio, with the default warm-up (160 ms).
    pub fn new(mode: VadMode) -> Self {
        Self::with_warmup(mode, DEFAULT_WARMUP_FRAMES)
    }

    /// A detector whose verdicts count after `warmup_frames` frames with signal.
    pub fn with_warmup(mode: VadMode, warmup_frames: u32) -> Self {
        Self {
            warmup_left: warmup_frames,
            inner: SendVad(webrtc_vad::Vad::new_with_rate_and_mode(
                webrtc_vad::SampleRate::Rate8kHz,
                mode.to_webrtc(),
            )),
            pcm: Vec::with_capacity(FRAME_SAMPLES),
        }
    }

    /// Whether one 20 ms mu-law frame holds speech.
    pub fn is_speech(&mut self, frame: &[u8]) -> Result<bool, FrameLengthError> {
        if frame.len() != FRAME_SAMPLES {
            return Err(FrameLengthError(frame.len()));
        }
        let mut pcm = std::mem::take(&mut self.pcm);
        pcm.clear();
        mulaw::decode_into(frame, &mut pcm);
        let verdict = self.is_speech_pcm(&pcm);
        self.pcm = pcm;
        verdict
    }

    /// Whether one 20 ms frame of 8 kHz linear samples holds speech.
    pub fn is_speech_pcm(&mut self, samples: &[i16]) -> Result<bool, FrameLengthError> {
        // The length check also keeps an empty slice away from the crate, which indexes
        // `buffer[0]` before calling into C.
        if samples.len() != FRAME_SAMPLES {
            return Err(FrameLengthError(samples.len()));
        }
        let verdict = self
            .inner
            .0
            .is_voice_segment(samples)
            .map_err(|()| FrameLengthError(samples.len()))?;
        if self.warmup_left > 0 {
            let energy: i64 = samples.iter().map(|&s| i64::from(s) * i64::from(s)).sum();
            if energy > WARMUP_MEAN_SQUARE * samples.len() as i64 {
                self.warmup_left -= 1;
            }
            return Ok(false);
        }
        Ok(verdict)
    }

    /// Forgets what the detector learned of the line's noise and starts over in `mode`,
    /// warm-up included.
    pub fn reset(&mut self, mode: VadMode, warmup_frames: u32) {
        self.warmup_left = warmup_frames;
        self.inner.0.reset();
        self.inner
            .0
            .set_sample_rate(webrtc_vad::SampleRate::Rate8kHz);
        self.inner.0.set_mode(mode.to_webrtc());
    }
}
