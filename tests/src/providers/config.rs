//! How a provider emulator is set up: where it listens, which keys it accepts, and how
//! slow each service is. Loadable from JSON (every field optional) for the binary, with
//! builder methods for tests.

use super::faults::Fault;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Settings for one emulator instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Which API keys each provider accepts.
    pub keys: AuthKeys,
    /// Deepgram live transcription.
    pub stt: SttConfig,
    /// Chat completions.
    pub llm: LlmConfig,
    /// All three text-to-speech services.
    pub tts: TtsConfig,
    /// Faults active from the start (see [`Fault`]).
    pub faults: Vec<Fault>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            keys: AuthKeys::default(),
            stt: SttConfig::default(),
            llm: LlmConfig::default(),
            tts: TtsConfig::default(),
            faults: Vec::new(),
        }
    }
}

impl ProviderConfig {
    /// No added latency anywhere and TTS as fast as it can be produced: what most unit
    /// tests want. The STT idle timeout stays at Deepgram's 10 s.
    pub fn instant() -> Self {
        ProviderConfig {
            llm: LlmConfig {
                first_token_ms: 0,
                token_delay_ms: 0,
            },
            tts: TtsConfig {
                first_byte_ms: 0,
                speed: 0.0,
                ..TtsConfig::default()
            },
            ..Self::default()
        }
    }

    /// Listens on `addr`.
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Accepts only `keys` for `provider` (an empty list accepts any non-empty key).
    pub fn with_keys(mut self, provider: Provider, keys: &[&str]) -> Self {
        let keys = keys.iter().map(|k| k.to_string()).collect();
        match provider {
            Provider::Deepgram => self.keys.deepgram = keys,
            Provider::OpenAi => self.keys.openai = keys,
            Provider::ElevenLabs => self.keys.elevenlabs = keys,
        }
        self
    }

    /// Holds every STT message back by `ms` before sending it.
    pub fn with_stt_delay_ms(mut self, ms: u64) -> Self {
        self.stt.result_delay_ms = ms;
        self
    }

    /// Closes STT sockets that received neither audio nor KeepAlive for `ms`.
    pub fn with_stt_idle_timeout_ms(mut self, ms: u64) -> Self {
        self.stt.idle_timeout_ms = ms;
        self
    }

    /// LLM time to first token and delay between later chunks.
    pub fn with_llm_latency_ms(mut self, first_token: u64, per_token: u64) -> Self {
        self.llm.first_token_ms = first_token;
        self.llm.token_delay_ms = per_token;
        self
    }

    /// TTS time to first byte and speed (multiple of real time; 0 sends all at once).
    pub fn with_tts_latency(mut self, first_byte_ms: u64, speed: f64) -> Self {
        self.tts.first_byte_ms = first_byte_ms;
        self.tts.speed = speed;
        self
    }

    /// Milliseconds of audio per TTS chunk.
    pub fn with_tts_chunk_ms(mut self, ms: u64) -> Self {
        self.tts.chunk_ms = ms.max(1);
        self
    }

    /// Starts with `fault` active.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }
}

/// The three companies whose keys are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// `Authorization: Token <key>` (listen and speak).
    Deepgram,
    /// `Authorization: Bearer <key>` (chat, speech, transcriptions).
    #[serde(rename = "openai")]
    OpenAi,
    /// `xi-api-key: <key>`.
    #[serde(rename = "elevenlabs")]
    ElevenLabs,
}

/// Accepted keys per provider. An empty list accepts any non-empty key, so the demo works
/// with whatever the product is configured with; a missing key is always refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthKeys {
    /// Deepgram keys.
    pub deepgram: Vec<String>,
    /// OpenAI (and OpenAI-compatible) keys.
    pub openai: Vec<String>,
    /// ElevenLabs keys.
    pub elevenlabs: Vec<String>,
}

impl AuthKeys {
    /// Whether `key` opens `provider`.
    pub fn accepts(&self, provider: Provider, key: Option<&str>) -> bool {
        let Some(key) = key.map(str::trim).filter(|k| !k.is_empty()) else {
            return false;
        };
        let allowed = match provider {
            Provider::Deepgram => &self.deepgram,
            Provider::OpenAi => &self.openai,
            Provider::ElevenLabs => &self.elevenlabs,
        };
        allowed.is_empty() || allowed.iter().any(|k| k == key)
    }
}

/// Deepgram live transcription.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SttConfig {
    /// Every message is held back this long (ms of wall time) before it is sent, as if
    /// the service were slow to transcribe. Order is kept.
    pub result_delay_ms: u64,
    /// A socket that gets neither audio nor KeepAlive for this long is closed with 1011 /
    /// NET-0001, as Deepgram does after 10 s.
    pub idle_timeout_ms: u64,
    /// Skip decoding long runs of silence (results are identical; only CPU is saved).
    pub silence_gate: bool,
}

impl Default for SttConfig {
    fn default() -> Self {
        SttConfig {
            result_delay_ms: 0,
            idle_timeout_ms: 10_000,
            silence_gate: true,
        }
    }
}

/// Chat completions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// From the response headers to the first chunk.
    pub first_token_ms: u64,
    /// Between later chunks.
    pub token_delay_ms: u64,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            first_token_ms: 200,
            token_delay_ms: 10,
        }
    }
}

/// Text to speech (ElevenLabs, OpenAI, Deepgram Aura).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TtsConfig {
    /// From the response headers to the first audio byte.
    pub first_byte_ms: u64,
    /// Audio is sent this many times faster than real time; 0 sends it all at once.
    pub speed: f64,
    /// Milliseconds of audio per chunk sent.
    pub chunk_ms: u64,
    /// Memory kept for encoded utterances, reused when the same text is asked again.
    pub cache_bytes: usize,
}

impl Default for TtsConfig {
    fn default() -> Self {
        TtsConfig {
            first_byte_ms: 100,
            speed: 10.0,
            chunk_ms: 20,
            cache_bytes: 64 << 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_json_object_is_the_default_config() {
        let config: ProviderConfig = serde_json::from_str("{}").expect("parses");
        assert_eq!(config.stt.idle_timeout_ms, 10_000);
        assert_eq!(config.tts.speed, 10.0);
        assert!(config.keys.accepts(Provider::OpenAi, Some("anything")));
        assert!(!config.keys.accepts(Provider::OpenAi, Some(" ")));
    }

    #[test]
    fn configured_keys_are_the_only_ones_accepted() {
        let config = ProviderConfig::default().with_keys(Provider::Deepgram, &["dg-1"]);
        assert!(config.keys.accepts(Provider::Deepgram, Some("dg-1")));
        assert!(!config.keys.accepts(Provider::Deepgram, Some("dg-2")));
        assert!(config.keys.accepts(Provider::ElevenLabs, Some("dg-2")));
    }
}
