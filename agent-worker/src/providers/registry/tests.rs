//! Chains per call: order, keys, unknown names, and one chain wired to local servers.

use super::*;
use crate::providers::tts::testing::serve;
use crate::providers::TtsRequest;
use axum::http::StatusCode;
use futures::StreamExt;
use serde_json::json;

fn config(value: serde_json::Value) -> ProvidersConfig {
    serde_json::from_value(value).unwrap()
}

fn with_keys() -> ProvidersConfig {
    config(json!({
        "deepgram": {"api_key": "dg"},
        "openai": {"api_key": "sk"},
        "elevenlabs": {"api_key": "xi"},
    }))
}

fn tts_job(provider: &str) -> TtsConfig {
    TtsConfig {
        provider: provider.into(),
        voice: "job-voice".into(),
        model: None,
    }
}

#[test]
fn the_chain_is_the_jobs_provider_then_the_fallbacks_without_repeats() {
    let providers = Providers::new(with_keys()).unwrap();
    assert_eq!(
        providers.chain(Kind::Tts, "openai").unwrap(),
        ["openai", "elevenlabs", "deepgram"]
    );
    assert_eq!(
        providers.chain(Kind::Stt, "deepgram").unwrap(),
        ["deepgram", "openai"]
    );
    assert_eq!(providers.chain(Kind::Llm, "openai").unwrap(), ["openai"]);
}

#[test]
fn providers_without_keys_are_left_out_and_none_at_all_is_a_clear_error() {
    let providers = Providers::new(config(json!({"openai": {"api_key": "sk"}}))).unwrap();
    assert_eq!(
        providers.chain(Kind::Tts, "elevenlabs").unwrap(),
        ["openai"]
    );
    let bare = Providers::new(ProvidersConfig::default()).unwrap();
    let error = bare
        .stt(
            &SttConfig {
                provider: "deepgram".into(),
                model: "nova-3".into(),
            },
            &UsageMeter::new(),
        )
        .err()
        .unwrap();
    let text = error.to_string();
    assert!(matches!(
        error,
        RegistryError::NoProvider { kind: "stt", .. }
    ));
    assert!(
        text.contains("deepgram: not configured: no API key"),
        "{text}"
    );
}

#[test]
fn local_and_self_hosted_endpoints_need_no_key() {
    let providers = Providers::new(config(json!({
        "openai": {"base_url": "http://127.0.0.1:9/v1"},
        "fallback": {"llm": ["groq", "ollama"]},
    })))
    .unwrap();
    // groq is the hosted service without a key; ollama is local with a default model.
    assert_eq!(
        providers.chain(Kind::Llm, "openai").unwrap(),
        ["openai", "ollama"]
    );
    let job = LlmConfig {
        provider: "ollama".into(),
        model: "qwen".into(),
        temperature: 0.2,
    };
    assert_eq!(
        providers.llm(&job, &UsageMeter::new()).unwrap().name(),
        "ollama"
    );
}

#[test]
fn a_fallback_endpoint_without_a_model_is_left_out() {
    let providers = Providers::new(config(json!({
        "openai": {"api_key": "sk"},
        "fallback": {"llm": ["vllm"]},
    })))
    .unwrap();
    assert_eq!(providers.chain(Kind::Llm, "openai").unwrap(), ["openai"]);
    // As the job's own provider it uses the job's model.
    assert_eq!(providers.chain(Kind::Llm, "vllm").unwrap(), ["vllm"]);
}

#[test]
fn unknown_names_are_refused_in_jobs_and_in_the_config() {
    let providers = Providers::new(with_keys()).unwrap();
    let error = providers
        .tts(&tts_job("acme"), &UsageMeter::new())
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .contains("unknown tts provider \"acme\" (known: deepgram, elevenlabs, openai)"),
        "{error}"
    );
    let broken = config(json!({"fallback": {"stt": ["deepgram", "nope"]}}));
    assert!(matches!(
        Providers::new(broken),
        Err(RegistryError::UnknownProvider { kind: "stt", .. })
    ));
}

#[tokio::test]
async fn a_failing_tts_falls_back_to_the_next_service_with_its_own_voice() {
    let (broken, _) = serve(StatusCode::SERVICE_UNAVAILABLE, vec![b"down".to_vec()]).await;
    let pcm: Vec<u8> = vec![0; 4_800];
    let (working, seen) = serve(StatusCode::OK, vec![pcm]).await;
    let providers = Providers::new(config(json!({
        "elevenlabs": {"base_url": broken},
        "openai": {"base_url": format!("{working}/v1"), "tts_voice": "nova"},
        "retry": {"attempts": 2, "backoff_base_ms": 1, "backoff_max_ms": 2},
        "fallback": {"tts": ["openai"]},
    })))
    .unwrap();
    let meter = UsageMeter::new();
    let tts = providers.tts(&tts_job("elevenlabs"), &meter).unwrap();
    let request = TtsRequest {
        text: "Hello".into(),
        voice: "job-voice".into(),
        model: None,
    };
    let audio: Vec<_> = tts.synthesize(request).await.unwrap().collect().await;
    let total: usize = audio.iter().map(|c| c.as_ref().unwrap().len()).sum();
    assert_eq!(total, 800);
    assert_eq!(seen.lock().unwrap()[0].body["voice"], "nova");
    let usage = meter.snapshot();
    assert_eq!(usage.tts["elevenlabs"].errors, 2);
    assert_eq!(usage.tts["openai"].characters, 5);
    assert_eq!(usage.totals().tts_requests, 3);
    assert_eq!(usage.resilience.tts_fallbacks, 1);
}
