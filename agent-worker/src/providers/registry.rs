//! The process's providers: built once from the config (one pooled HTTP client, one TLS
//! setup, one breaker per provider), handed out per call as fallback chains.
//!
//! A call's chain is the job's provider, then the configured fallbacks, without repeats.
//! A provider without a key is left out (`NotConfigured`), unless its base URL is not the
//! service's public one: emulators and self-hosted servers (Ollama, vLLM) need no key.

use crate::providers::config::{
    same_url, ProvidersConfig, DEEPGRAM_URL, ELEVENLABS_URL, OPENAI_URL,
};
use crate::providers::cost::{Kind, Rates, UsageMeter};
use crate::providers::http::{build_client, websocket_tls, Endpoint};
use crate::providers::resilience::{
    Breakers, FallbackLlm, FallbackStt, FallbackTts, Link, RetryPolicy, StreamLimits, SttSettings,
};
use crate::providers::{Llm, Stt, Tts};
use shared::assistant::{LlmConfig, SttConfig, TtsConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

mod build;

/// Why providers could not be set up, or a call's chain could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("setting up TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("unknown {kind} provider {name:?} (known: {known})")]
    UnknownProvider {
        kind: &'static str,
        name: String,
        known: String,
    },
    #[error("no usable {kind} provider: {reasons}")]
    NoProvider { kind: &'static str, reasons: String },
}

/// One provider as the registry holds it.
struct Entry<P: ?Sized> {
    provider: Arc<P>,
    /// Why it cannot be used (no key for the public service), if so.
    unusable: Option<String>,
    /// Model and voice when it stands in for another provider.
    model: Option<String>,
    voice: Option<String>,
}

/// Every provider of the process.
pub struct Providers {
    config: Arc<ProvidersConfig>,
    breakers: Arc<Breakers>,
    stt: BTreeMap<String, Entry<dyn Stt>>,
    llm: BTreeMap<String, Entry<dyn Llm>>,
    tts: BTreeMap<String, Entry<dyn Tts>>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("stt", &self.stt.keys().collect::<Vec<_>>())
            .field("llm", &self.llm.keys().collect::<Vec<_>>())
            .field("tts", &self.tts.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Why an endpoint cannot be used: the public service needs a key.
fn missing_key(endpoint: &Endpoint, public_url: Option<&str>) -> Option<String> {
    let public = public_url.is_some_and(|url| same_url(&endpoint.base_url, url));
    (public && endpoint.api_key.is_none()).then(|| "not configured: no API key".to_string())
}

impl Providers {
    /// Builds every provider the config describes. Fails on a broken HTTP/TLS setup or a
    /// fallback chain naming an unknown provider.
    pub fn new(config: ProvidersConfig) -> Result<Self, RegistryError> {
        let client = build_client(Duration::from_millis(config.timeouts.connect_ms))?;
        let tls = websocket_tls()?;
        let retry = RetryPolicy::from_config(&config.retry);
        let providers = Self {
            stt: build::stt(&config, &client, &tls, &retry),
            llm: build::llm(&config, &client),
            tts: build::tts(&config, &client),
            breakers: Arc::new(Breakers::new(config.breaker.clone())),
            config: Arc::new(config),
            retry,
        };
        for name in &providers.config.fallback.stt {
            known(Kind::Stt, &providers.stt, name)?;
        }
        for name in &providers.config.fallback.llm {
            known(Kind::Llm, &providers.llm, name)?;
        }
        for name in &providers.config.fallback.tts {
            known(Kind::Tts, &providers.tts, name)?;
        }
        Ok(providers)
    }

    /// The prices to cost a call's usage with.
    pub fn rates(&self) -> &Rates {
        &self.config.rates
    }

    /// The config the providers were built from.
    pub fn config(&self) -> &ProvidersConfig {
        &self.config
    }

    /// The process-wide breakers (for health reports).
    pub fn breakers(&self) -> &Breakers {
        &self.breakers
    }

    /// The usable providers of a chain starting at `job_provider`, in order.
    pub fn chain(&self, kind: Kind, job_provider: &str) -> Result<Vec<String>, RegistryError> {
        fn names<P: ?Sized>(links: Vec<Link<P>>) -> Vec<String> {
            links.into_iter().map(|link| link.name).collect()
        }
        let fallback = &self.config.fallback;
        Ok(match kind {
            Kind::Stt => names(self.links(kind, &self.stt, job_provider, &fallback.stt)?),
            Kind::Llm => names(self.links(kind, &self.llm, job_provider, &fallback.llm)?),
            Kind::Tts => names(self.links(kind, &self.tts, job_provider, &fallback.tts)?),
        })
    }

    /// Speech to text for one call.
    pub fn stt(&self, job: &SttConfig, meter: &UsageMeter) -> Result<Arc<dyn Stt>, RegistryError> {
        let links = self.links(
            Kind::Stt,
            &self.stt,
            &job.provider,
            &self.config.fallback.stt,
        )?;
        let settings = SttSettings {
            retry: self.retry.clone(),
            open_timeout: Duration::from_millis(self.config.timeouts.stt_open_ms),
            buffer_ms: self.config.fallback.stt_buffer_ms,
            max_reconnects_per_minute: self.config.fallback.stt_max_reconnects_per_minute,
            ..SttSettings::default()
        };
        Ok(Arc::new(FallbackStt::new(links, settings, meter.clone())))
    }

    /// The language model for one call.
    pub fn llm(&self, job: &LlmConfig, meter: &UsageMeter) -> Result<Arc<dyn Llm>, RegistryError> {
        let links = self.links(
            Kind::Llm,
            &self.llm,
            &job.provider,
            &self.config.fallback.llm,
        )?;
        let t = &self.config.timeouts;
        let limits = limits(t.llm_first_token_ms, t.llm_idle_ms, t.llm_total_ms);
        Ok(Arc::new(FallbackLlm::new(
            links,
            self.retry.clone(),
            limits,
            meter.clone(),
        )))
    }

    /// Text to speech for one call.
    pub fn tts(&self, job: &TtsConfig, meter: &UsageMeter) -> Result<Arc<dyn Tts>, RegistryError> {
        let links = self.links(
            Kind::Tts,
            &self.tts,
            &job.provider,
            &self.config.fallback.tts,
        )?;
        let t = &self.config.timeouts;
        let limits = limits(t.tts_first_byte_ms, t.tts_idle_ms, t.tts_total_ms);
        Ok(Arc::new(FallbackTts::new(
            links,
            self.retry.clone(),
            limits,
            meter.clone(),
        )))
    }

    fn links<P: ?Sized>(
        &self,
        kind: Kind,
        entries: &BTreeMap<String, Entry<P>>,
        job_provider: &str,
        fallbacks: &[String],
    ) -> Result<Vec<Link<P>>, RegistryError> {
        known(kind, entries, job_provider)?;
        let mut names: Vec<&str> = vec![job_provider];
        for name in fallbacks {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        let mut links = Vec::new();
        let mut reasons = Vec::new();
        for name in names {
            let Some(entry) = entries.get(name) else {
                continue;
            };
            let primary = name == job_provider;
            // A stand-in must know its own model: the job's belongs to another service.
            let unusable = entry.unusable.clone().or_else(|| {
                (kind == Kind::Llm && !primary && entry.model.is_none())
                    .then(|| "no model configured for fallback use".to_string())
            });
            if let Some(reason) = unusable {
                reasons.push(format!("{name}: {reason}"));
                continue;
            }
            let breaker = self.breakers.get(kind.as_str(), name);
            links.push(
                Link::new(name, Arc::clone(&entry.provider), breaker, primary)
                    .with_defaults(entry.model.clone(), entry.voice.clone()),
            );
        }
        if links.is_empty() {
            return Err(RegistryError::NoProvider {
                kind: kind.as_str(),
                reasons: reasons.join("; "),
            });
        }
        if !reasons.is_empty() {
            tracing::debug!(kind = kind.as_str(), skipped = %reasons.join("; "), "providers left out of the chain");
        }
        Ok(links)
    }
}

fn known<P: ?Sized>(
    kind: Kind,
    entries: &BTreeMap<String, Entry<P>>,
    name: &str,
) -> Result<(), RegistryError> {
    if entries.contains_key(name) {
        return Ok(());
    }
    Err(RegistryError::UnknownProvider {
        kind: kind.as_str(),
        name: name.to_string(),
        known: entries.keys().cloned().collect::<Vec<_>>().join(", "),
    })
}

fn limits(first_ms: u64, idle_ms: u64, total_ms: u64) -> StreamLimits {
    StreamLimits {
        first: Duration::from_millis(first_ms),
        idle: Duration::from_millis(idle_ms),
        total: Duration::from_millis(total_ms),
    }
}

/// The public URLs, for telling real services from emulators and self-hosted ones.
const PUBLIC: [(&str, &str); 3] = [
    ("deepgram", DEEPGRAM_URL),
    ("openai", OPENAI_URL),
    ("elevenlabs", ELEVENLABS_URL),
];

fn public_url(service: &str) -> Option<&'static str> {
    PUBLIC
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, url)| *url)
}

#[cfg(test)]
mod tests;
