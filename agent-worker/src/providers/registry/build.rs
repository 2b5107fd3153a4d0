//! Building each provider client from the config, once per process.

use super::{missing_key, public_url, Entry};
use crate::providers::config::ProvidersConfig;
use crate::providers::http::Endpoint;
use crate::providers::llm::openai::OpenAiLlm;
use crate::providers::resilience::RetryPolicy;
use crate::providers::stt::deepgram::DeepgramStt;
use crate::providers::stt::whisper::WhisperStt;
use crate::providers::tts::aura::AuraTts;
use crate::providers::tts::elevenlabs::ElevenLabsTts;
use crate::providers::tts::openai::OpenAiTts;
use crate::providers::{Llm, Stt, Tts};
use std::collections::BTreeMap;
use std::sync::Arc;

fn deepgram(config: &ProvidersConfig) -> Endpoint {
    Endpoint::new(
        "deepgram",
        &config.deepgram.base_url,
        config.deepgram.api_key.clone(),
    )
}

fn openai(config: &ProvidersConfig) -> Endpoint {
    Endpoint::new(
        "openai",
        &config.openai.base_url,
        config.openai.api_key.clone(),
    )
}

fn elevenlabs(config: &ProvidersConfig) -> Endpoint {
    Endpoint::new(
        "elevenlabs",
        &config.elevenlabs.base_url,
        config.elevenlabs.api_key.clone(),
    )
}

fn entry<P: ?Sized>(
    provider: Arc<P>,
    endpoint: &Endpoint,
    model: Option<String>,
    voice: Option<String>,
) -> Entry<P> {
    Entry {
        provider,
        unusable: missing_key(endpoint, public_url(&endpoint.provider)),
        model,
        voice,
    }
}

/// `deepgram` (live) and `openai` (Whisper).
pub(super) fn stt(
    config: &ProvidersConfig,
    client: &reqwest::Client,
    tls: &Arc<rustls::ClientConfig>,
    retry: &RetryPolicy,
) -> BTreeMap<String, Entry<dyn Stt>> {
    let mut entries = BTreeMap::new();
    let dg = deepgram(config);
    let live = DeepgramStt::new(
        dg.clone(),
        config.deepgram.chunk_ms,
        config.deepgram.utterance_end_ms,
        Arc::clone(tls),
    );
    let model = Some(config.deepgram.stt_model.clone());
    entries.insert(
        "deepgram".into(),
        entry(Arc::new(live) as Arc<dyn Stt>, &dg, model, None),
    );
    let oa = openai(config);
    let whisper = WhisperStt::new(
        oa.clone(),
        client.clone(),
        config.timeouts.stt_request_ms,
        config.openai.whisper_preroll_ms,
        retry.clone(),
    );
    let model = Some(config.openai.stt_model.clone());
    entries.insert(
        "openai".into(),
        entry(Arc::new(whisper) as Arc<dyn Stt>, &oa, model, None),
    );
    entries
}

/// `openai` and every OpenAI-compatible endpoint, known or configured.
pub(super) fn llm(
    config: &ProvidersConfig,
    client: &reqwest::Client,
) -> BTreeMap<String, Entry<dyn Llm>> {
    let mut entries = BTreeMap::new();
    let oa = openai(config);
    let chat = OpenAiLlm::new(oa.clone(), client.clone());
    let model = Some(config.openai.llm_model.clone());
    entries.insert(
        "openai".into(),
        entry(Arc::new(chat) as Arc<dyn Llm>, &oa, model, None),
    );
    for name in config.llm_names() {
        let Some(resolved) = config.llm_endpoint(&name) else {
            continue;
        };
        let endpoint = Endpoint::new(&name, &resolved.base_url, resolved.api_key.clone());
        let chat = OpenAiLlm::new(endpoint, client.clone());
        let unusable = (resolved.needs_key && resolved.api_key.is_none())
            .then(|| "not configured: no API key".to_string());
        let provider: Arc<dyn Llm> = Arc::new(chat);
        entries.insert(
            name,
            Entry {
                provider,
                unusable,
                model: resolved.model,
                voice: None,
            },
        );
    }
    entries
}

/// `elevenlabs`, `openai` and `deepgram` (Aura).
pub(super) fn tts(
    config: &ProvidersConfig,
    client: &reqwest::Client,
) -> BTreeMap<String, Entry<dyn Tts>> {
    let mut entries = BTreeMap::new();
    let el = elevenlabs(config);
    let (model, voice) = (&config.elevenlabs.tts_model, &config.elevenlabs.tts_voice);
    let tts = ElevenLabsTts::new(el.clone(), client.clone(), model.clone(), voice.clone());
    let e = entry(
        Arc::new(tts) as Arc<dyn Tts>,
        &el,
        Some(model.clone()),
        Some(voice.clone()),
    );
    entries.insert("elevenlabs".into(), e);
    let oa = openai(config);
    let (model, voice) = (&config.openai.tts_model, &config.openai.tts_voice);
    let tts = OpenAiTts::new(oa.clone(), client.clone(), model.clone(), voice.clone());
    let e = entry(
        Arc::new(tts) as Arc<dyn Tts>,
        &oa,
        Some(model.clone()),
        Some(voice.clone()),
    );
    entries.insert("openai".into(), e);
    let dg = deepgram(config);
    let voice = &config.deepgram.tts_voice;
    let tts = AuraTts::new(dg.clone(), client.clone(), voice.clone());
    let e = entry(
        Arc::new(tts) as Arc<dyn Tts>,
        &dg,
        None,
        Some(voice.clone()),
    );
    entries.insert("deepgram".into(), e);
    entries
}
