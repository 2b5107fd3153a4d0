//! Text to audio.

use super::alphabet::{Symbol, Timing, PREAMBLE, RAMP_MS, SYMBOL_MS, TONE_AMPLITUDE};
use super::frame::{self, MAX_TEXT};
use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::{Arc, LazyLock, Mutex};

/// Each symbol's two-tone wave before gain and envelope, by sample rate and tones: every
/// utterance is made of the same 18 symbols, and two sines per sample of every utterance
/// the emulated callees and TTS said were a visible share of the voice bench's harness.
type Waves = HashMap<(u32, [u64; 2]), Arc<[f64]>>;
static WAVES: LazyLock<Mutex<Waves>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The wave of `tones` at `rate`, `len` samples from phase zero (every symbol starts there).
fn wave(tones: [f64; 2], rate: u32, len: usize) -> Arc<[f64]> {
    let mut waves = WAVES.lock().unwrap_or_else(|e| e.into_inner());
    let wave = waves
        .entry((rate, tones.map(f64::to_bits)))
        .or_insert_with(|| {
            (0..len)
                .map(|n| {
                    let t = n as f64 / f64::from(rate);
                    tones.iter().map(|f| (2.0 * PI * f * t).sin()).sum()
                })
                .collect()
        });
    wave.clone()
}

/// Why a text cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Only ASCII is carried, so what is decoded compares byte for byte with what was said.
    #[error("the speech code carries ASCII text only")]
    NotAscii,
    /// The length is one byte.
    #[error("text is {0} bytes; an utterance carries at most {MAX_TEXT}")]
    TooLong(usize),
    /// Below 8 kHz the top tone (2650 Hz) has no room.
    #[error("sample rate {0} Hz is below the 8000 Hz minimum")]
    RateTooLow(u32),
}

/// Encodes `text` as 16-bit PCM at `rate` Hz. Starts with the first ramp and ends with the
/// last, with no silence around it: callers add their own pauses.
pub fn encode(text: &str, rate: u32) -> Result<Vec<i16>, EncodeError> {
    if rate < Timing::MIN_RATE {
        return Err(EncodeError::RateTooLow(rate));
    }
    if !text.is_ascii() {
        return Err(EncodeError::NotAscii);
    }
    if text.len() > MAX_TEXT {
        return Err(EncodeError::TooLong(text.len()));
    }
    let symbols: Vec<Symbol> = PREAMBLE
        .iter()
        .copied()
        .chain(
            frame::nibbles(text.as_bytes())
                .into_iter()
                .map(Symbol::Data),
        )
        .collect();
    let timing = Timing { rate };
    let mut out = vec![0i16; timing.utterance_len(symbols.len())];
    let len = timing.samples(SYMBOL_MS);
    let ramp = timing.samples(RAMP_MS);
    let envelope: Vec<f64> = (0..len).map(|n| envelope(n, len, ramp)).collect();
    for (index, symbol) in symbols.iter().enumerate() {
        let start = timing.symbol_start(index);
        let gain = Timing::gain(index) * TONE_AMPLITUDE * 32767.0;
        let wave = wave(symbol.tones(), rate, len);
        for ((slot, &env), &w) in out[start..start + len]
            .iter_mut()
            .zip(&envelope)
            .zip(&*wave)
        {
            *slot = (gain * env * w).round() as i16;
        }
    }
    Ok(out)
}

/// Samples `encode` produces for a text of `len` bytes at `rate` Hz.
pub fn utterance_samples(len: usize, rate: u32) -> usize {
    Timing { rate }.utterance_len(PREAMBLE.len() + frame::data_symbols(len))
}

/// Raised-cosine ramps at both ends of a symbol, flat in between.
fn envelope(n: usize, len: usize, ramp: usize) -> f64 {
    let edge = n.min(len - 1 - n);
    if edge >= ramp || ramp == 0 {
        1.0
    } else {
        0.5 * (1.0 - (PI * (edge as f64 + 0.5) / ramp as f64).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoder as it was before the waves were kept: two sines per sample.
    fn direct(text: &str, rate: u32) -> Vec<i16> {
        let symbols: Vec<Symbol> = PREAMBLE
            .iter()
            .copied()
            .chain(
                frame::nibbles(text.as_bytes())
                    .into_iter()
                    .map(Symbol::Data),
            )
            .collect();
        let timing = Timing { rate };
        let mut out = vec![0i16; timing.utterance_len(symbols.len())];
        let (len, ramp) = (timing.samples(SYMBOL_MS), timing.samples(RAMP_MS));
        for (index, symbol) in symbols.iter().enumerate() {
            let start = timing.symbol_start(index);
            let gain = Timing::gain(index) * TONE_AMPLITUDE * 32767.0;
            for (n, slot) in out[start..start + len].iter_mut().enumerate() {
                let t = n as f64 / f64::from(rate);
                let wave: f64 = symbol
                    .tones()
                    .iter()
                    .map(|f| (2.0 * PI * f * t).sin())
                    .sum();
                *slot = (gain * envelope(n, len, ramp) * wave).round() as i16;
            }
        }
        out
    }

    #[test]
    fn kept_waves_give_the_same_samples_as_working_each_out() {
        for rate in [8000, 16000, 22050, 44100] {
            for text in ["my code is token-1234", "thanks goodbye", ""] {
                // Twice: the second encode reads the kept waves.
                for _ in 0..2 {
                    assert_eq!(
                        encode(text, rate),
                        Ok(direct(text, rate)),
                        "{rate} {text:?}"
                    );
                }
            }
        }
    }
}
