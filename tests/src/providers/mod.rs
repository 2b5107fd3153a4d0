//! Provider emulators: Deepgram (live STT, Aura TTS), OpenAI (chat completions, speech,
//! transcriptions) and ElevenLabs (TTS) on one listener, speaking each service's real
//! wire protocol so the product can be pointed at them through its base-URL settings.
//!
//! They are honest oracles: STT transcribes only what the test speech code decodes from
//! the audio that really arrived; TTS speaks the requested text in the same code; the
//! model's reply depends on what the callee said (fixed rules, see `openai_chat/brain.rs`). Latency
//! and faults are configurable; everything is recorded in a [`Report`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use outbound_tests::providers::{Fault, ProviderConfig, ProviderEmulator, Service};
//! let providers = ProviderEmulator::start(ProviderConfig::default()).await?;
//! // Deepgram: providers.ws_base_url(); OpenAI: providers.openai_base_url();
//! // ElevenLabs: providers.base_url().
//! providers.set_fault(Fault::status(Service::Llm, 503).times(1));
//! let report = providers.report();
//! assert!(report.llm.is_empty());
//! # Ok(()) }
//! ```

mod config;
pub(crate) mod deepgram_listen;
mod deepgram_speak;
mod elevenlabs;
mod emulator;
mod errors;
pub mod faults;
mod gate;
mod inspect;
mod openai_audio;
mod openai_chat;
pub mod report;
mod socket;
mod state;
mod tts;
mod wav;

pub use config::{AuthKeys, LlmConfig, Provider, ProviderConfig, SttConfig, TtsConfig};
pub use emulator::{ProviderEmulator, WaitTimeout};
pub use faults::{Fault, FaultKind, Service};
pub use report::Report;

#[cfg(test)]
mod tests;

/// A random id in UUID form, as Deepgram's `request_id`s are.
pub(crate) fn request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The error that makes the server abort a response part-way (an injected drop). It waits
/// a moment first: while the body is pending the server writes out what was already sent,
/// so the client really receives the part before the cut.
pub(crate) async fn cut_connection() -> std::io::Error {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    std::io::Error::other("injected drop")
}
