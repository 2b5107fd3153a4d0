//! Provider settings: where each service lives and its key, default models and voices,
//! timeouts, retries, the circuit breaker, fallback chains and the rates for cost.
//!
//! Every field has a default, so an empty section is a working (public-cloud) setup that
//! only lacks keys. Base URLs are what make the emulators in `tests/` reachable: point
//! them at `http://127.0.0.1:PORT` and the same clients talk to the emulators.

use super::cost::Rates;
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;

mod resilience;

pub use resilience::{BreakerConfig, FallbackConfig, RetryConfig, TimeoutConfig};

/// Deepgram's public API.
pub const DEEPGRAM_URL: &str = "https://api.deepgram.com";
/// OpenAI's public API (the base includes the version, as OpenAI-compatible servers do).
pub const OPENAI_URL: &str = "https://api.openai.com/v1";
/// ElevenLabs' public API.
pub const ELEVENLABS_URL: &str = "https://api.elevenlabs.io";

/// All provider settings (`[providers]` in the worker's config).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProvidersConfig {
    pub deepgram: DeepgramConfig,
    pub openai: OpenAiConfig,
    pub elevenlabs: ElevenLabsConfig,
    /// OpenAI-compatible chat endpoints by provider name (`groq`, `xai`, `together`,
    /// `ollama`, `vllm` are known with their usual URLs; any other name may be added).
    /// Each field left out falls back to the known endpoint's.
    pub llm_endpoints: BTreeMap<String, LlmEndpointConfig>,
    pub timeouts: TimeoutConfig,
    pub retry: RetryConfig,
    pub breaker: BreakerConfig,
    pub fallback: FallbackConfig,
    pub rates: Rates,
}

/// Deepgram: live STT and Aura TTS.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DeepgramConfig {
    pub base_url: String,
    pub api_key: Option<SecretString>,
    /// STT model when Deepgram is a fallback (a job naming Deepgram brings its own).
    pub stt_model: String,
    /// Aura voice (it is also the model) when Aura is a fallback or the job has none.
    pub tts_voice: String,
    /// Audio per WebSocket message. 40 ms halves the messages of 20 ms frames, which
    /// matters at hundreds of calls per process, and adds at most 20 ms of latency.
    pub chunk_ms: u64,
    /// `utterance_end_ms` query value.
    pub utterance_end_ms: u64,
}

impl Default for DeepgramConfig {
    fn default() -> Self {
        Self {
            base_url: DEEPGRAM_URL.into(),
            api_key: None,
            stt_model: "nova-3".into(),
            tts_voice: "aura-2-thalia-en".into(),
            chunk_ms: 40,
            utterance_end_ms: 1_000,
        }
    }
}

/// OpenAI: chat completions, Whisper and TTS.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OpenAiConfig {
    pub base_url: String,
    pub api_key: Option<SecretString>,
    /// Chat model when OpenAI is a fallback or the job has none.
    pub llm_model: String,
    pub stt_model: String,
    pub tts_model: String,
    pub tts_voice: String,
    /// Audio kept before the VAD's first speech frame, so Whisper hears the onset.
    pub whisper_preroll_ms: u64,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: OPENAI_URL.into(),
            api_key: None,
            llm_model: "gpt-4o-mini".into(),
            stt_model: "whisper-1".into(),
            tts_model: "tts-1".into(),
            tts_voice: "alloy".into(),
            whisper_preroll_ms: 200,
        }
    }
}

/// ElevenLabs: streaming TTS.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ElevenLabsConfig {
    pub base_url: String,
    pub api_key: Option<SecretString>,
    pub tts_model: String,
    /// Voice id when ElevenLabs is a fallback (another provider's voice id means nothing here).
    pub tts_voice: String,
}

impl Default for ElevenLabsConfig {
    fn default() -> Self {
        Self {
            base_url: ELEVENLABS_URL.into(),
            api_key: None,
            tts_model: "eleven_flash_v2_5".into(),
            // "Rachel", one of the default voices every account has.
            tts_voice: "21m00Tcm4TLvDq8Ai2NbB".into(),
        }
    }
}

/// One OpenAI-compatible chat endpoint as written in the config (fields optional, so a
/// known endpoint needs only its key).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LlmEndpointConfig {
    pub base_url: Option<String>,
    pub api_key: Option<SecretString>,
    /// Model used when this endpoint is a fallback (or the job names none).
    pub model: Option<String>,
}

/// An OpenAI-compatible endpoint with the known defaults filled in.
#[derive(Debug, Clone)]
pub struct LlmEndpoint {
    pub name: String,
    pub base_url: String,
    pub api_key: Option<SecretString>,
    pub model: Option<String>,
    /// A key is required: the URL is the hosted service's public one.
    pub needs_key: bool,
}

/// Endpoints known by name: (name, public URL, default model, URL is a hosted service).
const KNOWN_ENDPOINTS: &[(&str, &str, Option<&str>, bool)] = &[
    (
        "groq",
        "https://api.groq.com/openai/v1",
        Some("llama-3.3-70b-versatile"),
        true,
    ),
    ("xai", "https://api.x.ai/v1", Some("grok-3-mini"), true),
    (
        "together",
        "https://api.together.xyz/v1",
        Some("meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        true,
    ),
    (
        "ollama",
        "http://127.0.0.1:11434/v1",
        Some("llama3.2"),
        false,
    ),
    ("vllm", "http://127.0.0.1:8000/v1", None, false),
];

impl ProvidersConfig {
    /// The OpenAI-compatible endpoint called `name` (not `openai` itself), merging the
    /// config's entry over the known one. `None` when the name is neither.
    pub fn llm_endpoint(&self, name: &str) -> Option<LlmEndpoint> {
        let known = KNOWN_ENDPOINTS.iter().find(|(n, ..)| *n == name);
        let configured = self.llm_endpoints.get(name);
        if known.is_none() && configured.is_none() {
            return None;
        }
        let configured = configured.cloned().unwrap_or_default();
        let base_url = configured
            .base_url
            .or_else(|| known.map(|k| k.1.to_string()))?;
        let needs_key = known.is_some_and(|k| k.3 && same_url(&base_url, k.1));
        Some(LlmEndpoint {
            name: name.to_string(),
            base_url,
            api_key: configured.api_key,
            model: configured
                .model
                .or_else(|| known.and_then(|k| k.2.map(String::from))),
            needs_key,
        })
    }

    /// Every LLM provider name this config can serve: `openai`, the known endpoints and
    /// the configured ones.
    pub fn llm_names(&self) -> Vec<String> {
        let mut names = vec!["openai".to_string()];
        names.extend(KNOWN_ENDPOINTS.iter().map(|k| k.0.to_string()));
        for name in self.llm_endpoints.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// Fills keys left empty from the usual environment variables (`DEEPGRAM_API_KEY`,
    /// `OPENAI_API_KEY`, `ELEVENLABS_API_KEY`, and `<NAME>_API_KEY` for each endpoint).
    pub fn with_keys_from_env(mut self, get: impl Fn(&str) -> Option<String>) -> Self {
        let fill = |slot: &mut Option<SecretString>, var: &str| {
            if slot.is_none() {
                *slot = get(var)
                    .filter(|v| !v.trim().is_empty())
                    .map(SecretString::from);
            }
        };
        fill(&mut self.deepgram.api_key, "DEEPGRAM_API_KEY");
        fill(&mut self.openai.api_key, "OPENAI_API_KEY");
        fill(&mut self.elevenlabs.api_key, "ELEVENLABS_API_KEY");
        for name in self.llm_names().into_iter().filter(|n| n != "openai") {
            let var = format!("{}_API_KEY", name.to_uppercase().replace('-', "_"));
            let entry = self.llm_endpoints.entry(name).or_default();
            fill(&mut entry.api_key, &var);
        }
        self
    }
}

/// Whether two base URLs are the same, ignoring a trailing slash and letter case.
pub fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

#[cfg(test)]
mod tests;
