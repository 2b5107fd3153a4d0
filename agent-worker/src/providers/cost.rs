//! What a call used of each provider, and what that costs.
//!
//! The fallback layer feeds a per-call [`UsageMeter`] (requests, errors, audio seconds,
//! tokens, characters, per provider name); at the end the pipeline takes a
//! [`UsageSnapshot`] and prices it with [`Rates`] from the config. Rates default to public
//! list prices; a config entry overrides one provider (or model) and keeps the others.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

mod meter;

pub use meter::{
    LlmUsage, ResilienceCounters, SttUsage, TokenCounts, TtsUsage, UsageMeter, UsageSnapshot,
    UsageTotals,
};

/// The three kinds of provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Stt,
    Llm,
    Tts,
}

impl Kind {
    /// `stt`, `llm` or `tts`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Stt => "stt",
            Kind::Llm => "llm",
            Kind::Tts => "tts",
        }
    }
}

/// Prices, in US cents.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Rates {
    /// Per minute of audio, per STT provider.
    #[serde(deserialize_with = "stt_rates")]
    pub stt_cents_per_minute: BTreeMap<String, f64>,
    /// Per LLM provider (used when its model has no entry in `llm_models`).
    #[serde(deserialize_with = "llm_rates")]
    pub llm: BTreeMap<String, LlmRate>,
    /// Per model name, whichever provider served it.
    #[serde(deserialize_with = "llm_model_rates")]
    pub llm_models: BTreeMap<String, LlmRate>,
    /// Per 1,000 characters, per TTS provider.
    #[serde(deserialize_with = "tts_rates")]
    pub tts_cents_per_1k_chars: BTreeMap<String, f64>,
}

/// Token prices of an LLM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct LlmRate {
    pub prompt_cents_per_1k: f64,
    pub completion_cents_per_1k: f64,
}

const fn rate(prompt_cents_per_1k: f64, completion_cents_per_1k: f64) -> LlmRate {
    LlmRate {
        prompt_cents_per_1k,
        completion_cents_per_1k,
    }
}

fn table<T: Copy>(rows: &[(&str, T)]) -> BTreeMap<String, T> {
    rows.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

// List prices as published in 2025 (pay as you go).
fn default_stt() -> BTreeMap<String, f64> {
    // Deepgram Nova-3 streaming $0.0077/min; OpenAI Whisper $0.006/min.
    table(&[("deepgram", 0.77), ("openai", 0.6)])
}

fn default_llm() -> BTreeMap<String, LlmRate> {
    table(&[
        ("openai", rate(0.015, 0.06)),
        ("groq", rate(0.059, 0.079)),
        ("xai", rate(0.03, 0.05)),
        ("together", rate(0.088, 0.088)),
        ("ollama", rate(0.0, 0.0)),
        ("vllm", rate(0.0, 0.0)),
    ])
}

fn default_llm_models() -> BTreeMap<String, LlmRate> {
    table(&[
        ("gpt-4o-mini", rate(0.015, 0.06)),
        ("gpt-4o", rate(0.25, 1.0)),
        ("gpt-4.1", rate(0.2, 0.8)),
        ("gpt-4.1-mini", rate(0.04, 0.16)),
        ("gpt-4.1-nano", rate(0.01, 0.04)),
        ("llama-3.3-70b-versatile", rate(0.059, 0.079)),
        ("llama-3.1-8b-instant", rate(0.005, 0.008)),
        ("grok-3-mini", rate(0.03, 0.05)),
        ("grok-3", rate(0.3, 1.5)),
    ])
}

fn default_tts() -> BTreeMap<String, f64> {
    // ElevenLabs Flash v2.5 $0.05/1k chars; OpenAI tts-1 $15/1M; Deepgram Aura-2 $0.030/1k.
    table(&[("elevenlabs", 5.0), ("openai", 1.5), ("deepgram", 3.0)])
}

fn merged<'de, D, T>(
    d: D,
    mut defaults: BTreeMap<String, T>,
) -> Result<BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    defaults.extend(BTreeMap::<String, T>::deserialize(d)?);
    Ok(defaults)
}

fn stt_rates<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    merged(d, default_stt())
}

fn llm_rates<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, LlmRate>, D::Error> {
    merged(d, default_llm())
}

fn llm_model_rates<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, LlmRate>, D::Error> {
    merged(d, default_llm_models())
}

fn tts_rates<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    merged(d, default_tts())
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            stt_cents_per_minute: default_stt(),
            llm: default_llm(),
            llm_models: default_llm_models(),
            tts_cents_per_1k_chars: default_tts(),
        }
    }
}

/// Cents rounded for reports (a hundredth of a thousandth of a dollar is plenty).
fn round(cents: f64) -> f64 {
    (cents * 10_000.0).round() / 10_000.0
}

impl Rates {
    /// The LLM rate for `model` served by `provider`: the model's own, else the
    /// provider's. `None` when neither is known (priced at zero and flagged).
    pub fn llm_rate(&self, provider: &str, model: &str) -> Option<LlmRate> {
        self.llm_models
            .get(model)
            .or_else(|| self.llm.get(provider))
            .copied()
    }

    /// Prices a snapshot: the total in cents and a breakdown per kind and provider, e.g.
    /// `{"stt":{"deepgram":{"seconds":12.3,"cents":0.1579}},"llm":{..},"tts":{..},"totalCents":..}`.
    pub fn cost(&self, usage: &UsageSnapshot) -> (f64, Value) {
        let mut total = 0.0;
        let mut stt = Map::new();
        for (name, u) in &usage.stt {
            let seconds = u.audio_ms as f64 / 1_000.0;
            let per_minute = self.stt_cents_per_minute.get(name).copied();
            let cents = seconds / 60.0 * per_minute.unwrap_or(0.0);
            total += cents;
            let mut row = json!({"seconds": seconds, "requests": u.requests, "errors": u.errors, "cents": round(cents)});
            flag_unpriced(&mut row, per_minute.is_none() && u.audio_ms > 0);
            stt.insert(name.clone(), row);
        }
        let mut llm = Map::new();
        for (name, u) in &usage.llm {
            let (mut prompt, mut completion, mut cents, mut estimated, mut unpriced) =
                (0, 0, 0.0, false, false);
            let mut models = Map::new();
            for (model, t) in &u.models {
                let rate = self.llm_rate(name, model);
                unpriced |= rate.is_none();
                let rate = rate.unwrap_or_default();
                let c = t.prompt_tokens as f64 / 1_000.0 * rate.prompt_cents_per_1k
                    + t.completion_tokens as f64 / 1_000.0 * rate.completion_cents_per_1k;
                prompt += t.prompt_tokens;
                completion += t.completion_tokens;
                estimated |= t.estimated;
                cents += c;
                models.insert(
                    model.clone(),
                    json!({"promptTokens": t.prompt_tokens, "completionTokens": t.completion_tokens, "cents": round(c)}),
                );
            }
            total += cents;
            let mut row = json!({
                "promptTokens": prompt, "completionTokens": completion, "estimated": estimated,
                "requests": u.requests, "errors": u.errors, "cents": round(cents), "models": models,
            });
            flag_unpriced(&mut row, unpriced);
            llm.insert(name.clone(), row);
        }
        let mut tts = Map::new();
        for (name, u) in &usage.tts {
            let per_1k = self.tts_cents_per_1k_chars.get(name).copied();
            let cents = u.characters as f64 / 1_000.0 * per_1k.unwrap_or(0.0);
            total += cents;
            let mut row = json!({"characters": u.characters, "requests": u.requests, "errors": u.errors, "cents": round(cents)});
            flag_unpriced(&mut row, per_1k.is_none() && u.characters > 0);
            tts.insert(name.clone(), row);
        }
        let total = round(total);
        let breakdown = json!({"stt": stt, "llm": llm, "tts": tts, "totalCents": total});
        (total, breakdown)
    }
}

fn flag_unpriced(row: &mut Value, unpriced: bool) {
    if unpriced {
        row["unpriced"] = Value::Bool(true);
    }
}

#[cfg(test)]
mod tests;
