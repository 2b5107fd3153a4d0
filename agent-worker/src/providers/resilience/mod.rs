//! Making providers dependable: timeouts, retries, circuit breakers and fallback chains.
//!
//! The registry wraps each call's providers in [`FallbackStt`], [`FallbackLlm`] and
//! [`FallbackTts`], which implement the same traits, so the pipeline never sees a chain:
//! it sees one provider that rarely fails. Per request: try the job's provider, then the
//! configured fallbacks, each through its process-wide [`Breaker`], retrying only until
//! the first byte; after that, errors are passed through (the pipeline decides), except
//! for STT, whose session reconnects by itself mid-call.

pub mod breaker;
pub mod fallback_llm;
pub mod fallback_stt;
pub mod fallback_tts;
pub mod retry;
pub mod timed;

pub use breaker::{Breaker, BreakerState, Breakers};
pub use fallback_llm::FallbackLlm;
pub use fallback_stt::{FallbackStt, SttSettings};
pub use fallback_tts::FallbackTts;
pub use retry::RetryPolicy;
pub use timed::StreamLimits;

use std::sync::Arc;

/// One provider in a chain, with the model or voice to use when it stands in for another
/// (a fallback cannot use the job's model name or voice id, which belong to the job's
/// provider).
pub struct Link<P: ?Sized> {
    pub name: String,
    pub provider: Arc<P>,
    pub breaker: Arc<Breaker>,
    /// The job's own provider: its model and voice come from the request.
    pub primary: bool,
    /// Model when this link is a fallback (or the request names none).
    pub model: Option<String>,
    /// Voice when this link is a fallback (or the request names none).
    pub voice: Option<String>,
}

impl<P: ?Sized> std::fmt::Debug for Link<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("name", &self.name)
            .field("primary", &self.primary)
            .field("model", &self.model)
            .field("voice", &self.voice)
            .finish_non_exhaustive()
    }
}

impl<P: ?Sized> Link<P> {
    /// A link without default model or voice.
    pub fn new(name: &str, provider: Arc<P>, breaker: Arc<Breaker>, primary: bool) -> Self {
        Self {
            name: name.to_string(),
            provider,
            breaker,
            primary,
            model: None,
            voice: None,
        }
    }

    /// With the model and voice to use as a fallback.
    pub fn with_defaults(mut self, model: Option<String>, voice: Option<String>) -> Self {
        self.model = model;
        self.voice = voice;
        self
    }

    /// The model for a request that asked for `requested`.
    pub fn model_for(&self, requested: &str) -> String {
        pick(self.primary, requested, &self.model)
    }

    /// The voice for a request that asked for `requested`.
    pub fn voice_for(&self, requested: &str) -> String {
        pick(self.primary, requested, &self.voice)
    }
}

fn pick(primary: bool, requested: &str, default: &Option<String>) -> String {
    match default {
        Some(default) if !primary || requested.trim().is_empty() => default.clone(),
        _ => requested.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod testing;
