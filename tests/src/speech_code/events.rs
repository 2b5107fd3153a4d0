//! What the decoder reports: utterances, and utterances that started but could not be read.

/// A decoded utterance. Sample positions count from the first sample fed to the decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utterance {
    /// The text, exactly as encoded.
    pub text: String,
    /// First sample of the preamble (to within a millisecond or two).
    pub start_sample: u64,
    /// One past the last sample of the last symbol.
    pub end_sample: u64,
}

/// Why an utterance that started could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeFault {
    /// All symbols were read but the checksum or length does not match.
    BadCrc,
    /// The checksum matched a frame that is not ASCII text.
    NotAscii,
    /// Symbol `n` (counting data symbols from 0) was far quieter than the preamble.
    LostSignal(usize),
    /// Symbol `n` was not a clean pair of our tones.
    Garbled(usize),
    /// The input ended (see [`super::Decoder::finish`]) in the middle of an utterance.
    Truncated,
}

/// An utterance that started but could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    /// What went wrong.
    pub fault: DecodeFault,
    /// Where its preamble started.
    pub start_sample: u64,
    /// Where reading stopped.
    pub end_sample: u64,
}

/// What the decoder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeEvent {
    /// A complete, checked utterance.
    Utterance(Utterance),
    /// An utterance that started and could not be read.
    Error(DecodeError),
}
