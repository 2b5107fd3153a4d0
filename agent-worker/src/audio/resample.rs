//! Streaming sample-rate conversion for services that do not speak 8 kHz.
//!
//! Built on rubato's FFT resampler: the rates are fixed per stream, so the synchronous
//! FFT engine is both the cheapest and the best filtered (its anti-aliasing filter removes
//! everything above the output's Nyquist frequency, e.g. sibilants above 4 kHz that would
//! otherwise fold back as hiss on the phone line).
//!
//! Input arrives in chunks of any size (HTTP chunks split samples anywhere); the engine
//! wants fixed chunks, so input waits in `pending` until a whole chunk is there. Because
//! the engine always sees the same chunk boundaries, the output does not depend on how the
//! input was split.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

/// Why a resampler could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot resample {from_hz} Hz to {to_hz} Hz: {message}")]
pub struct ResampleError {
    pub from_hz: u32,
    pub to_hz: u32,
    pub message: String,
}

/// A mono 16-bit resampler for one stream.
pub struct Resampler {
    /// `None` when the rates are equal: samples pass straight through.
    engine: Option<Fft<f32>>,
    from_hz: u32,
    to_hz: u32,
    /// Input not yet processed (less than one engine chunk).
    pending: Vec<f32>,
    /// The engine's output scratch, sized once.
    scratch: Vec<f32>,
    /// Output frames still to drop: the engine's delay, so output lines up with input.
    to_trim: usize,
    /// Samples fed since the start (or the last flush), to know the exact output length.
    fed: u64,
    /// Samples emitted since the start (or the last flush).
    emitted: u64,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from_hz", &self.from_hz)
            .field("to_hz", &self.to_hz)
            .finish_non_exhaustive()
    }
}

impl Resampler {
    /// A resampler from `from_hz` to `to_hz`, working in 20 ms input chunks.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, ResampleError> {
        let error = |message: String| ResampleError {
            from_hz,
            to_hz,
            message,
        };
        if from_hz == 0 || to_hz == 0 {
            return Err(error("rates must be positive".into()));
        }
        let engine = if from_hz == to_hz {
            None
        } else {
            let chunk = (from_hz as usize / 50).max(1);
            let engine =
                Fft::<f32>::new(from_hz as usize, to_hz as usize, chunk, 1, FixedSync::Input)
                    .map_err(|e| error(e.to_string()))?;
            Some(engine)
        };
        let (scratch, to_trim) = match &engine {
            Some(engine) => (vec![0.0; engine.output_frames_max()], engine.output_delay()),
            None => (Vec::new(), 0),
        };
        Ok(Self {
            engine,
            from_hz,
            to_hz,
            pending: Vec::new(),
            scratch,
            to_trim,
            fed: 0,
            emitted: 0,
        })
    }

    /// Feeds samples; returns whatever output is ready (possibly nothing).
    pub fn process(&mut self, samples: &[i16]) -> Vec<i16> {
        self.fed += samples.len() as u64;
        let mut out = Vec::new();
        if self.engine.is_none() {
            self.emitted += samples.len() as u64;
            return samples.to_vec();
        }
        self.pending
            .extend(samples.iter().map(|&s| f32::from(s) / 32_768.0));
        self.drain_whole_chunks(&mut out);
        out
    }

    /// Ends the stream: pushes the last partial chunk and the engine's delay through, so
    /// the total output is exactly `input * to / from` samples. The resampler is then
    /// ready for a new stream.
    pub fn flush(&mut self) -> Vec<i16> {
        let mut out = Vec::new();
        let expected = (self.fed * u64::from(self.to_hz)).div_ceil(u64::from(self.from_hz));
        let emitted_before = self.emitted;
        if self.engine.is_some() {
            // Zero padding completes the last chunk and then pushes out the delayed tail.
            while self.emitted < expected {
                let Some(need) = self.engine.as_ref().map(|e| e.input_frames_next()) else {
                    break;
                };
                let missing = need.saturating_sub(self.pending.len());
                self.pending.extend(std::iter::repeat_n(0.0, missing));
                if !self.drain_whole_chunks(&mut out) {
                    break;
                }
            }
        }
        let keep = expected.saturating_sub(emitted_before) as usize;
        out.truncate(keep);
        self.reset();
        out
    }

    fn reset(&mut self) {
        if let Some(engine) = &mut self.engine {
            engine.reset();
            self.to_trim = engine.output_delay();
        }
        self.pending.clear();
        self.fed = 0;
        self.emitted = 0;
    }

    /// Runs every whole chunk in `pending` through the engine. False if the engine failed
    /// (it cannot with the buffers sized here; the stream then just loses that chunk).
    fn drain_whole_chunks(&mut self, out: &mut Vec<i16>) -> bool {
        let Some(engine) = &mut self.engine else {
            return true;
        };
        loop {
            let need = engine.input_frames_next();
            if self.pending.len() < need {
                return true;
            }
            let result = InterleavedSlice::new(&self.pending[..need], 1, need).and_then(|input| {
                let frames = self.scratch.len();
                InterleavedSlice::new_mut(&mut self.scratch[..], 1, frames).map(|o| (input, o))
            });
            let Ok((input, mut output)) = result else {
                tracing::error!("resampler buffers mis-sized");
                self.pending.clear();
                return false;
            };
            let (used, produced) = match engine.process_into_buffer(&input, &mut output, None) {
                Ok(counts) => counts,
                Err(error) => {
                    tracing::error!(%error, "resampling failed");
                    self.pending.clear();
                    return false;
                }
            };
            self.pending.drain(..used);
            let skip = self.to_trim.min(produced);
            self.to_trim -= skip;
            let fresh = &self.scratch[skip..produced];
            self.emitted += fresh.len() as u64;
            out.extend(fresh.iter().map(|&s| to_i16(s)));
        }
    }
}

fn to_i16(sample: f32) -> i16 {
    (sample * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, samples: usize, amplitude: f64) -> Vec<i16> {
        (0..samples)
            .map(|n| {
                let t = n as f64 / f64::from(rate);
                (amplitude * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
            })
            .collect()
    }

    fn rms(samples: &[i16]) -> f64 {
        let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
        (sum / samples.len().max(1) as f64).sqrt()
    }

    /// Energy at `hz` by correlation with a sine and a cosine (one Goertzel bin).
    fn magnitude_at(samples: &[i16], hz: f64, rate: u32) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (n, &s) in samples.iter().enumerate() {
            let phase = 2.0 * std::f64::consts::PI * hz * n as f64 / f64::from(rate);
            re += f64::from(s) * phase.cos();
            im += f64::from(s) * phase.sin();
        }
        2.0 * (re * re + im * im).sqrt() / samples.len() as f64
    }

    fn whole(resampler: &mut Resampler, input: &[i16]) -> Vec<i16> {
        let mut out = resampler.process(input);
        out.extend(resampler.flush());
        out
    }

    #[test]
    fn a_1khz_tone_survives_24k_to_8k() {
        let input = tone(1_000.0, 24_000, 24_000, 10_000.0);
        let mut resampler = Resampler::new(24_000, 8_000).unwrap();
        let out = whole(&mut resampler, &input);
        assert_eq!(out.len(), 8_000);
        // Skip the edges, where the filter rings.
        let middle = &out[800..7_200];
        let amplitude = magnitude_at(middle, 1_000.0, 8_000);
        assert!(
            (amplitude - 10_000.0).abs() < 300.0,
            "amplitude {amplitude}"
        );
        let expected_rms = 10_000.0 / std::f64::consts::SQRT_2;
        assert!(
            (rms(middle) - expected_rms).abs() < 250.0,
            "rms {}",
            rms(middle)
        );
        // The engine's delay is trimmed: output sample n is input sample 3n.
        for n in 800..7_200 {
            let error = (i32::from(out[n]) - i32::from(input[3 * n])).abs();
            assert!(error < 300, "sample {n} off by {error}");
        }
    }

    #[test]
    fn a_5khz_tone_is_filtered_out_rather_than_aliased() {
        let input = tone(5_000.0, 24_000, 24_000, 10_000.0);
        let mut resampler = Resampler::new(24_000, 8_000).unwrap();
        let out = whole(&mut resampler, &input);
        let middle = &out[800..7_200];
        // Aliasing would fold 5 kHz onto 3 kHz at full strength.
        assert!(magnitude_at(middle, 3_000.0, 8_000) < 100.0);
        assert!(rms(middle) < 100.0, "rms {}", rms(middle));
    }

    #[test]
    fn odd_chunk_sizes_give_the_same_output_as_one_call() {
        let input = tone(440.0, 24_000, 10_007, 8_000.0);
        let mut one = Resampler::new(24_000, 8_000).unwrap();
        let expected = whole(&mut one, &input);

        let mut streamed = Resampler::new(24_000, 8_000).unwrap();
        let mut out = Vec::new();
        let sizes = [1usize, 7, 13, 480, 3, 999, 2];
        let mut rest = &input[..];
        let mut i = 0;
        while !rest.is_empty() {
            let take = sizes[i % sizes.len()].min(rest.len());
            out.extend(streamed.process(&rest[..take]));
            rest = &rest[take..];
            i += 1;
        }
        out.extend(streamed.flush());
        assert_eq!(out.len(), expected.len());
        assert_eq!(out.len(), 3_336); // ceil(10007 / 3)
        assert_eq!(out, expected);
    }

    #[test]
    fn a_flushed_resampler_starts_a_new_stream_cleanly() {
        let input = tone(1_000.0, 24_000, 4_800, 10_000.0);
        let mut resampler = Resampler::new(24_000, 8_000).unwrap();
        let first = whole(&mut resampler, &input);
        let second = whole(&mut resampler, &input);
        assert_eq!(first, second);
    }

    #[test]
    fn equal_rates_pass_through() {
        let mut resampler = Resampler::new(8_000, 8_000).unwrap();
        assert_eq!(resampler.process(&[1, 2, 3]), vec![1, 2, 3]);
        assert!(resampler.flush().is_empty());
        assert!(Resampler::new(0, 8_000).is_err());
    }
}
