//! The test speech code: text carried in speech-band audio.
//!
//! The emulated callees speak it and the emulated ears decode it, so an end-to-end test can
//! assert exactly what was said and what was heard ("the callee heard `goodbye token-17`")
//! through every stage a voice goes through: mu-law, resampling, packet loss, clears.
//!
//! An utterance is a preamble (four sync symbols), then the frame `[len][text][crc16]`, one
//! nibble per symbol. A symbol is two simultaneous tones, one from each group of four in
//! the 570-2650 Hz band ([`alphabet`]), 30 ms long with 5 ms raised-cosine ramps. Symbols
//! come in syllables of six with a 40 ms dip between them, so voice activity detectors see
//! a 4-5 Hz energy envelope, as in speech. The CRC and per-symbol confidence checks mean a
//! damaged, truncated or reordered utterance decodes to an error, never to other text.

pub mod alphabet;
mod decoder;
mod encoder;
mod events;
mod frame;
mod goertzel;

pub use decoder::Decoder;
pub use encoder::{encode, utterance_samples, EncodeError};
pub use events::{DecodeError, DecodeEvent, DecodeFault, Utterance};

#[cfg(test)]
mod tests;
