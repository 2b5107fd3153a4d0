//! Cost arithmetic and the meter's bookkeeping.

use super::*;

fn sample_usage() -> UsageSnapshot {
    let meter = UsageMeter::new();
    let clone = meter.clone();
    meter.request(Kind::Stt, "deepgram");
    clone.stt_audio("deepgram", 60_000);
    meter.request(Kind::Llm, "openai");
    meter.llm_tokens("openai", "gpt-4o-mini", 2_000, 500, false);
    meter.request(Kind::Tts, "elevenlabs");
    meter.error(Kind::Tts, "elevenlabs");
    meter.request(Kind::Tts, "elevenlabs");
    meter.tts_characters("elevenlabs", 1_500);
    meter.snapshot()
}

#[test]
fn clones_of_a_meter_feed_the_same_counters() {
    let usage = sample_usage();
    assert_eq!(usage.stt["deepgram"].audio_ms, 60_000);
    assert_eq!(usage.tts["elevenlabs"].requests, 2);
    assert_eq!(
        usage.totals(),
        UsageTotals {
            stt_requests: 1,
            stt_errors: 0,
            llm_requests: 1,
            llm_errors: 0,
            tts_requests: 2,
            tts_errors: 1,
        }
    );
}

#[test]
fn cost_adds_up_per_provider_and_in_total() {
    let (total, breakdown) = Rates::default().cost(&sample_usage());
    // 1 min * 0.77 + (2k * 0.015 + 0.5k * 0.06) + 1.5k chars * 5.0
    assert!((total - 8.33).abs() < 1e-9, "{total}");
    assert_eq!(breakdown["totalCents"], json!(8.33));
    assert_eq!(breakdown["stt"]["deepgram"]["seconds"], json!(60.0));
    assert_eq!(breakdown["stt"]["deepgram"]["cents"], json!(0.77));
    let llm = &breakdown["llm"]["openai"];
    assert_eq!(llm["promptTokens"], json!(2_000));
    assert_eq!(llm["completionTokens"], json!(500));
    assert_eq!(llm["cents"], json!(0.06));
    assert_eq!(llm["models"]["gpt-4o-mini"]["cents"], json!(0.06));
    assert_eq!(breakdown["tts"]["elevenlabs"]["characters"], json!(1_500));
    assert_eq!(breakdown["tts"]["elevenlabs"]["cents"], json!(7.5));
    assert!(breakdown["tts"]["elevenlabs"].get("unpriced").is_none());
}

#[test]
fn a_model_without_its_own_rate_uses_the_providers_and_unknowns_are_flagged() {
    let meter = UsageMeter::new();
    meter.llm_tokens("groq", "some-new-model", 1_000, 1_000, true);
    meter.llm_tokens("mystery", "m", 1_000, 1_000, false);
    meter.tts_characters("robot", 10);
    let (total, breakdown) = Rates::default().cost(&meter.snapshot());
    assert!((total - (0.059 + 0.079)).abs() < 1e-9, "{total}");
    assert_eq!(breakdown["llm"]["groq"]["estimated"], json!(true));
    assert_eq!(breakdown["llm"]["mystery"]["unpriced"], json!(true));
    assert_eq!(breakdown["tts"]["robot"]["unpriced"], json!(true));
}

#[test]
fn a_configured_rate_overrides_one_entry_and_keeps_the_rest() {
    let rates: Rates = serde_json::from_value(json!({
        "tts_cents_per_1k_chars": {"openai": 3.0},
        "llm_models": {"gpt-4o-mini": {"prompt_cents_per_1k": 1.0}},
    }))
    .unwrap();
    assert_eq!(rates.tts_cents_per_1k_chars["openai"], 3.0);
    assert_eq!(rates.tts_cents_per_1k_chars["elevenlabs"], 5.0);
    let mini = rates.llm_rate("openai", "gpt-4o-mini").unwrap();
    assert_eq!(mini.prompt_cents_per_1k, 1.0);
    assert_eq!(mini.completion_cents_per_1k, 0.0);
    assert_eq!(rates.stt_cents_per_minute["deepgram"], 0.77);
}

#[test]
fn resilience_counters_are_kept_apart_from_usage() {
    let meter = UsageMeter::new();
    meter.stt_reconnect(false);
    meter.stt_reconnect(true);
    meter.stt_dropped_audio(200);
    meter.fallback(Kind::Tts);
    let counters = meter.snapshot().resilience;
    assert_eq!(counters.stt_reconnects, 2);
    assert_eq!(counters.stt_failovers, 1);
    assert_eq!(counters.stt_dropped_audio_ms, 200);
    assert_eq!(counters.tts_fallbacks, 1);
    let (total, _) = Rates::default().cost(&meter.snapshot());
    assert_eq!(total, 0.0);
}
