//! Text to audio.

use super::alphabet::{Symbol, Timing, PREAMBLE, RAMP_MS, SYMBOL_MS, TONE_AMPLITUDE};
use super::frame::{self, MAX_TEXT};
use std::f64::consts::PI;

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
    for (index, symbol) in symbols.iter().enumerate() {
        let start = timing.symbol_start(index);
        let gain = Timing::gain(index) * TONE_AMPLITUDE * 32767.0;
        let tones = symbol.tones();
        for (n, slot) in out[start..start + len].iter_mut().enumerate() {
            let t = n as f64 / f64::from(rate);
            let wave: f64 = tones.iter().map(|f| (2.0 * PI * f * t).sin()).sum();
            *slot = (gain * envelope(n, len, ramp) * wave).round() as i16;
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
