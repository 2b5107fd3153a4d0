//! The speech and language providers behind small streaming traits: `Stt`, `Llm`, `Tts`.
//!
//! Every implementation reaches its service through a base URL from the worker's config,
//! so the same code talks to the real service or to the emulators in `tests/`. Streams are
//! cancelled by dropping them: a barge-in drops the LLM and TTS streams, which closes their
//! HTTP requests.

pub mod config;
pub mod cost;
pub mod error;
pub mod http;
pub mod llm;
pub mod registry;
pub mod resilience;
pub mod stt;
pub mod tts;

pub use error::ProviderError;
pub use llm::{ChatMessage, Llm, LlmEvent, LlmRequest, ToolCall, ToolSpec};
pub use stt::{Stt, SttEvent, SttInput, SttOptions, SttSession};
pub use tts::{Tts, TtsRequest, TtsStream};

pub use config::ProvidersConfig;
pub use cost::{Kind, Rates, UsageMeter, UsageSnapshot, UsageTotals};
pub use registry::{Providers, RegistryError};
