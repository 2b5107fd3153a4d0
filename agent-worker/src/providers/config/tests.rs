//! Config parsing: defaults, partial sections, endpoints, keys from the environment.

use super::*;
use secrecy::ExposeSecret;

fn parse(json: serde_json::Value) -> ProvidersConfig {
    serde_json::from_value(json).unwrap()
}

#[test]
fn an_empty_config_is_the_public_cloud_without_keys() {
    let config = parse(serde_json::json!({}));
    assert_eq!(config.deepgram.base_url, DEEPGRAM_URL);
    assert_eq!(config.deepgram.chunk_ms, 40);
    assert!(config.openai.api_key.is_none());
    assert_eq!(config.fallback.tts, ["elevenlabs", "openai", "deepgram"]);
    assert_eq!(config.retry.attempts, 2);
}

#[test]
fn a_partial_section_keeps_the_other_defaults() {
    let config = parse(serde_json::json!({
        "openai": {"base_url": "http://127.0.0.1:9000/v1", "api_key": "sk-test"},
        "timeouts": {"llm_idle_ms": 1234},
    }));
    assert_eq!(config.openai.base_url, "http://127.0.0.1:9000/v1");
    assert_eq!(config.openai.tts_model, "tts-1");
    assert_eq!(config.timeouts.llm_idle_ms, 1234);
    assert_eq!(config.timeouts.llm_first_token_ms, 5_000);
    let key = config.openai.api_key.as_ref().unwrap();
    assert_eq!(key.expose_secret(), "sk-test");
    assert!(!format!("{config:?}").contains("sk-test"));
}

#[test]
fn known_endpoints_merge_with_their_config_entry() {
    let config = parse(serde_json::json!({
        "llm_endpoints": {
            "groq": {"api_key": "gsk"},
            "ollama": {"model": "qwen2.5"},
            "local": {"base_url": "http://10.0.0.5:8080/v1"},
        }
    }));
    let groq = config.llm_endpoint("groq").unwrap();
    assert_eq!(groq.base_url, "https://api.groq.com/openai/v1");
    assert!(groq.needs_key);
    assert!(groq.api_key.is_some());
    let ollama = config.llm_endpoint("ollama").unwrap();
    assert!(!ollama.needs_key);
    assert_eq!(ollama.model.as_deref(), Some("qwen2.5"));
    let local = config.llm_endpoint("local").unwrap();
    assert!(!local.needs_key);
    assert!(local.model.is_none());
    assert!(config.llm_endpoint("nope").is_none());
    assert!(config.llm_names().contains(&"local".to_string()));
}

#[test]
fn a_known_endpoint_moved_to_another_url_needs_no_key() {
    let config = parse(serde_json::json!({
        "llm_endpoints": {"groq": {"base_url": "http://127.0.0.1:7000/v1"}}
    }));
    assert!(!config.llm_endpoint("groq").unwrap().needs_key);
}

#[test]
fn keys_come_from_the_environment_only_where_missing() {
    let config =
        parse(serde_json::json!({"openai": {"api_key": "from-file"}})).with_keys_from_env(|var| {
            match var {
                "OPENAI_API_KEY" => Some("from-env".into()),
                "GROQ_API_KEY" => Some("gsk-env".into()),
                "DEEPGRAM_API_KEY" => Some("  ".into()),
                _ => None,
            }
        });
    let openai = config.openai.api_key.as_ref().unwrap();
    assert_eq!(openai.expose_secret(), "from-file");
    assert!(config.deepgram.api_key.is_none());
    let groq = config.llm_endpoint("groq").unwrap();
    assert_eq!(groq.api_key.unwrap().expose_secret(), "gsk-env");
}
