//! Cutting the caller's audio into what Whisper should hear, and WAV encoding.
//!
//! A segment starts at the first frame the VAD calls speech, with ~200 ms of the audio
//! before it (the VAD reacts late, and a clipped onset costs Whisper the first word), and
//! runs until `Finalize`: pauses inside a turn stay in, so words are not glued together.

use crate::providers::SttInput;
use std::collections::VecDeque;

/// Samples per millisecond at 8 kHz (one mu-law byte per sample).
const PER_MS: u64 = 8;
/// A turn longer than this is sent on its own (Whisper's file limit is far away, but a
/// caller who never pauses must still be heard).
const MAX_SEGMENT_MS: u64 = 60_000;

/// Audio to transcribe, with where it sits on the session's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Mu-law bytes (empty when the turn had no speech).
    pub audio: Vec<u8>,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// Keeps the current segment and the pre-roll before it.
#[derive(Debug)]
pub struct Segmenter {
    preroll: VecDeque<u8>,
    preroll_limit: usize,
    segment: Vec<u8>,
    /// Session position (samples) where `segment` starts.
    segment_start: u64,
    /// Samples received.
    position: u64,
}

impl Segmenter {
    /// A segmenter keeping `preroll_ms` before speech.
    pub fn new(preroll_ms: u64) -> Self {
        Self {
            preroll: VecDeque::new(),
            preroll_limit: (preroll_ms * PER_MS) as usize,
            segment: Vec::new(),
            segment_start: 0,
            position: 0,
        }
    }

    /// Takes one input; returns a segment to transcribe on `Finalize` (possibly with no
    /// audio, so every `Finalize` is answered) or when a segment grew too long.
    pub fn push(&mut self, input: SttInput) -> Option<Segment> {
        match input {
            SttInput::Audio { mulaw, speech } => {
                if self.segment.is_empty() && !speech {
                    self.preroll.extend(mulaw.iter());
                    let excess = self.preroll.len().saturating_sub(self.preroll_limit);
                    self.preroll.drain(..excess);
                } else {
                    if self.segment.is_empty() {
                        self.segment_start = self.position - self.preroll.len() as u64;
                        self.segment.extend(self.preroll.drain(..));
                    }
                    self.segment.extend_from_slice(&mulaw);
                }
                self.position += mulaw.len() as u64;
                if self.segment.len() as u64 >= MAX_SEGMENT_MS * PER_MS {
                    return Some(self.take());
                }
                None
            }
            SttInput::Finalize => Some(self.take()),
        }
    }

    /// The segment in progress when the input ends, if it holds speech.
    pub fn finish(&mut self) -> Option<Segment> {
        (!self.segment.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> Segment {
        let audio = std::mem::take(&mut self.segment);
        let start = if audio.is_empty() {
            self.position
        } else {
            self.segment_start
        };
        Segment {
            start_ms: start / PER_MS,
            end_ms: (start + audio.len() as u64) / PER_MS,
            audio,
        }
    }
}

/// A WAV file (RIFF, PCM 16-bit mono 8 kHz) of `samples`.
pub fn wav(samples: &[i16]) -> Vec<u8> {
    const RATE: u32 = 8_000;
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn audio(byte: u8, speech: bool) -> SttInput {
        SttInput::Audio {
            mulaw: Bytes::from(vec![byte; 160]),
            speech,
        }
    }

    #[test]
    fn a_segment_keeps_200ms_before_speech_and_the_pauses_inside_it() {
        let mut segmenter = Segmenter::new(200);
        for _ in 0..20 {
            assert_eq!(segmenter.push(audio(1, false)), None);
        }
        segmenter.push(audio(2, true));
        segmenter.push(audio(3, false));
        segmenter.push(audio(4, true));
        let segment = segmenter.push(SttInput::Finalize).unwrap();
        // 400 ms of silence, of which the last 200 ms (10 frames) are kept.
        assert_eq!(segment.start_ms, 200);
        assert_eq!(segment.end_ms, 460);
        assert_eq!(segment.audio.len(), 13 * 160);
        assert_eq!(&segment.audio[1_600..1_601], &[2]);
        assert_eq!(segment.audio[1_760], 3);
    }

    #[test]
    fn a_finalize_without_speech_is_answered_with_an_empty_segment_at_the_present() {
        let mut segmenter = Segmenter::new(200);
        segmenter.push(audio(1, false));
        let segment = segmenter.push(SttInput::Finalize).unwrap();
        assert!(segment.audio.is_empty());
        assert_eq!((segment.start_ms, segment.end_ms), (20, 20));
        assert_eq!(segmenter.finish(), None);
    }

    #[test]
    fn the_next_segment_starts_where_the_caller_speaks_again() {
        let mut segmenter = Segmenter::new(0);
        segmenter.push(audio(1, true));
        segmenter.push(SttInput::Finalize);
        segmenter.push(audio(1, false));
        segmenter.push(audio(2, true));
        let segment = segmenter.finish().unwrap();
        assert_eq!((segment.start_ms, segment.end_ms), (40, 60));
    }

    #[test]
    fn wav_has_a_canonical_header_for_8khz_16bit_mono() {
        let file = wav(&[0, 1, -1]);
        assert_eq!(file.len(), 44 + 6);
        assert_eq!(&file[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(file[4..8].try_into().unwrap()), 42);
        assert_eq!(&file[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([file[20], file[21]]), 1);
        assert_eq!(u16::from_le_bytes([file[22], file[23]]), 1);
        assert_eq!(u32::from_le_bytes(file[24..28].try_into().unwrap()), 8_000);
        assert_eq!(u32::from_le_bytes(file[28..32].try_into().unwrap()), 16_000);
        assert_eq!(u16::from_le_bytes([file[34], file[35]]), 16);
        assert_eq!(&file[36..40], b"data");
        assert_eq!(u32::from_le_bytes(file[40..44].try_into().unwrap()), 6);
        assert_eq!(&file[44..], &[0, 0, 1, 0, 0xff, 0xff]);
    }
}
