//! The per-call usage meter: what the fallback layer counts, per provider name.

use super::Kind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// One call's usage so far, cheap to clone (every clone feeds the same counters).
#[derive(Debug, Clone, Default)]
pub struct UsageMeter {
    inner: Arc<Mutex<UsageSnapshot>>,
}

/// Usage of one call at one moment, per provider name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageSnapshot {
    pub stt: BTreeMap<String, SttUsage>,
    pub llm: BTreeMap<String, LlmUsage>,
    pub tts: BTreeMap<String, TtsUsage>,
    pub resilience: ResilienceCounters,
}

/// One STT provider's usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SttUsage {
    /// Sessions opened (including failed attempts).
    pub requests: u64,
    pub errors: u64,
    /// Audio forwarded to the provider.
    pub audio_ms: u64,
}

/// One LLM provider's usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LlmUsage {
    pub requests: u64,
    pub errors: u64,
    /// Tokens per model (rates may differ per model).
    pub models: BTreeMap<String, TokenCounts>,
}

/// Tokens of one model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenCounts {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Some requests reported no usage, so part of this is estimated (characters / 4).
    pub estimated: bool,
}

/// One TTS provider's usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TtsUsage {
    pub requests: u64,
    pub errors: u64,
    /// Characters synthesised (billed by every TTS service).
    pub characters: u64,
}

/// How often the call needed the resilience layer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResilienceCounters {
    /// STT sessions reopened after a failure mid-call.
    pub stt_reconnects: u64,
    /// Of those, the ones that moved to another provider.
    pub stt_failovers: u64,
    /// Caller audio dropped because it outgrew the reconnect buffer.
    pub stt_dropped_audio_ms: u64,
    /// LLM requests served by a provider other than the job's.
    pub llm_fallbacks: u64,
    /// TTS requests served by a provider other than the job's.
    pub tts_fallbacks: u64,
}

/// Request and error totals per kind, as the control plane's `Usage` event wants them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageTotals {
    pub stt_requests: i64,
    pub stt_errors: i64,
    pub llm_requests: i64,
    pub llm_errors: i64,
    pub tts_requests: i64,
    pub tts_errors: i64,
}

impl UsageMeter {
    /// An empty meter for one call.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, UsageSnapshot> {
        // Counters stay meaningful even if a holder panicked.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One request (or session, or attempt) to `provider`.
    pub fn request(&self, kind: Kind, provider: &str) {
        let mut usage = self.lock();
        match kind {
            Kind::Stt => entry(&mut usage.stt, provider).requests += 1,
            Kind::Llm => entry(&mut usage.llm, provider).requests += 1,
            Kind::Tts => entry(&mut usage.tts, provider).requests += 1,
        }
    }

    /// One failed request (or a stream that broke).
    pub fn error(&self, kind: Kind, provider: &str) {
        let mut usage = self.lock();
        match kind {
            Kind::Stt => entry(&mut usage.stt, provider).errors += 1,
            Kind::Llm => entry(&mut usage.llm, provider).errors += 1,
            Kind::Tts => entry(&mut usage.tts, provider).errors += 1,
        }
    }

    /// Audio forwarded to an STT provider.
    pub fn stt_audio(&self, provider: &str, ms: u64) {
        entry(&mut self.lock().stt, provider).audio_ms += ms;
    }

    /// Tokens of one LLM request; `estimated` when the service reported none.
    pub fn llm_tokens(
        &self,
        provider: &str,
        model: &str,
        prompt: u64,
        completion: u64,
        estimated: bool,
    ) {
        let mut usage = self.lock();
        let counts = entry(&mut entry(&mut usage.llm, provider).models, model);
        counts.prompt_tokens += prompt;
        counts.completion_tokens += completion;
        counts.estimated |= estimated;
    }

    /// Characters sent to a TTS provider.
    pub fn tts_characters(&self, provider: &str, characters: u64) {
        entry(&mut self.lock().tts, provider).characters += characters;
    }

    /// An STT session reopened mid-call; `failover` when on another provider.
    pub fn stt_reconnect(&self, failover: bool) {
        let mut usage = self.lock();
        usage.resilience.stt_reconnects += 1;
        if failover {
            usage.resilience.stt_failovers += 1;
        }
    }

    /// Caller audio the STT layer had to drop.
    pub fn stt_dropped_audio(&self, ms: u64) {
        self.lock().resilience.stt_dropped_audio_ms += ms;
    }

    /// A request served by a fallback provider.
    pub fn fallback(&self, kind: Kind) {
        let mut usage = self.lock();
        match kind {
            Kind::Stt => usage.resilience.stt_failovers += 1,
            Kind::Llm => usage.resilience.llm_fallbacks += 1,
            Kind::Tts => usage.resilience.tts_fallbacks += 1,
        }
    }

    /// The usage so far.
    pub fn snapshot(&self) -> UsageSnapshot {
        self.lock().clone()
    }
}

fn entry<'a, T: Default>(map: &'a mut BTreeMap<String, T>, key: &str) -> &'a mut T {
    // Look up before inserting, so the per-frame path allocates no key.
    if !map.contains_key(key) {
        map.insert(key.to_string(), T::default());
    }
    map.get_mut(key)
        .unwrap_or_else(|| unreachable!("inserted above"))
}

impl UsageSnapshot {
    /// Requests and errors per kind.
    pub fn totals(&self) -> UsageTotals {
        let sum = |values: &mut dyn Iterator<Item = (u64, u64)>| {
            values.fold((0i64, 0i64), |(r, e), (a, b)| (r + a as i64, e + b as i64))
        };
        let (stt_requests, stt_errors) =
            sum(&mut self.stt.values().map(|u| (u.requests, u.errors)));
        let (llm_requests, llm_errors) =
            sum(&mut self.llm.values().map(|u| (u.requests, u.errors)));
        let (tts_requests, tts_errors) =
            sum(&mut self.tts.values().map(|u| (u.requests, u.errors)));
        UsageTotals {
            stt_requests,
            stt_errors,
            llm_requests,
            llm_errors,
            tts_requests,
            tts_errors,
        }
    }
}
