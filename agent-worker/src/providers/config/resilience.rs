//! The resilience settings: timeouts, retries, the circuit breaker and fallback chains.

use serde::Deserialize;

/// How long to wait for each provider step. A timeout is a `ProviderError::Timeout`,
/// which is retryable and counts against the provider's breaker.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TimeoutConfig {
    /// TCP + TLS connect of every HTTP request.
    pub connect_ms: u64,
    /// Opening an STT session (WebSocket handshake included).
    pub stt_open_ms: u64,
    /// One whole segmented transcription request (Whisper).
    pub stt_request_ms: u64,
    /// From request to the first event (token or tool call).
    pub llm_first_token_ms: u64,
    /// Between two events once the reply flows.
    pub llm_idle_ms: u64,
    /// Whole reply.
    pub llm_total_ms: u64,
    /// From request to the first audio bytes.
    pub tts_first_byte_ms: u64,
    /// Between two audio chunks.
    pub tts_idle_ms: u64,
    /// Whole clause.
    pub tts_total_ms: u64,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            connect_ms: 3_000,
            stt_open_ms: 5_000,
            stt_request_ms: 15_000,
            llm_first_token_ms: 5_000,
            llm_idle_ms: 5_000,
            llm_total_ms: 60_000,
            tts_first_byte_ms: 4_000,
            tts_idle_ms: 4_000,
            tts_total_ms: 60_000,
        }
    }
}

/// Retries of one provider before moving on to the next, only before its first byte.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RetryConfig {
    /// Tries per provider (1 = no retry).
    pub attempts: u32,
    /// First backoff; doubles per retry, with jitter.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            attempts: 2,
            backoff_base_ms: 100,
            backoff_max_ms: 1_000,
        }
    }
}

/// The per-provider circuit breaker, shared by every call of the process.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BreakerConfig {
    /// Failures within `window_ms` that open the breaker.
    pub failure_threshold: u32,
    pub window_ms: u64,
    /// How long an open breaker rejects before letting one probe through.
    pub cooldown_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            window_ms: 30_000,
            cooldown_ms: 15_000,
        }
    }
}

/// Providers tried after the job's own, in order, per kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FallbackConfig {
    pub stt: Vec<String>,
    pub llm: Vec<String>,
    pub tts: Vec<String>,
    /// Audio an STT session holds while it reconnects; older audio is dropped (and counted).
    pub stt_buffer_ms: u64,
    /// A call's STT session gives up after this many reconnects within a minute.
    pub stt_max_reconnects_per_minute: u32,
}

impl Default for FallbackConfig {
    fn default() -> Self {
        Self {
            stt: vec!["deepgram".into(), "openai".into()],
            llm: vec!["openai".into()],
            tts: vec!["elevenlabs".into(), "openai".into(), "deepgram".into()],
            stt_buffer_ms: 1_000,
            stt_max_reconnects_per_minute: 6,
        }
    }
}
