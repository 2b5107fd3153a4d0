//! Audio on the phone's terms: 8 kHz mono, 20 ms frames, G.711 mu-law on the wire.
//!
//! Mu-law 8 kHz is the pipeline's own format because it is what Twilio sends and what
//! Deepgram and ElevenLabs accept and emit: on the usual path nothing is transcoded.
//! Only a provider that needs another rate (OpenAI TTS at 24 kHz PCM) pays for resampling.

pub mod mulaw;
pub mod pacer;
pub mod recording;
pub mod resample;
pub mod vad;

/// Phone audio sample rate.
pub const SAMPLE_RATE: u32 = 8_000;
/// One frame's length.
pub const FRAME_MS: u64 = 20;
/// Samples (and mu-law bytes) in one frame.
pub const FRAME_SAMPLES: usize = 160;
