//! Text to speech: each clause is synthesised as a stream of 8 kHz mu-law.

use super::ProviderError;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub mod aura;
pub mod elevenlabs;
pub mod openai;
#[cfg(test)]
pub(crate) mod testing;

/// One piece of text to speak.
#[derive(Debug, Clone, PartialEq)]
pub struct TtsRequest {
    pub text: String,
    /// The provider's voice id or name.
    pub voice: String,
    pub model: Option<String>,
}

/// 8 kHz mu-law audio in chunks of any size, in order.
pub type TtsStream = BoxStream<'static, Result<Bytes, ProviderError>>;

/// The request's value, or the provider's own when the request leaves it blank.
pub(crate) fn given_or<'a>(given: Option<&'a str>, default: &'a str) -> &'a str {
    given.filter(|v| !v.trim().is_empty()).unwrap_or(default)
}

/// A text-to-speech provider. Implementations convert to 8 kHz mu-law themselves, so the
/// pipeline never cares what the service emits.
#[async_trait]
pub trait Tts: Send + Sync {
    /// The provider's name for logs, metrics and costs.
    fn name(&self) -> &str;
    /// Starts synthesising `request`; resolves when the service has accepted it.
    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, ProviderError>;
}
