//! The door every request goes through: the API key check, then the service's fault.
//!
//! Keys are checked first, as the real services do, so an injected outage does not hide a
//! misconfigured key.

use super::config::Provider;
use super::errors::{Api, ApiError};
use super::faults::{FaultKind, Service};
use super::state::Shared;
use axum::http::HeaderMap;

impl Service {
    /// Whose keys open it.
    pub(crate) fn provider(self) -> Provider {
        match self {
            Service::Stt | Service::TtsDeepgram => Provider::Deepgram,
            Service::Llm | Service::TtsOpenai | Service::Whisper => Provider::OpenAi,
            Service::TtsElevenlabs => Provider::ElevenLabs,
        }
    }

    /// Whose error shape it answers with.
    pub(crate) fn api(self) -> Api {
        match self.provider() {
            Provider::Deepgram => Api::Deepgram,
            Provider::OpenAi => Api::OpenAi,
            Provider::ElevenLabs => Api::ElevenLabs,
        }
    }
}

/// The key as the provider's clients send it.
pub(crate) fn presented_key(provider: Provider, headers: &HeaderMap) -> Option<&str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match provider {
        Provider::Deepgram => {
            let value = header("authorization")?;
            // Deepgram takes API keys as `Token`, temporary tokens as `Bearer`.
            value
                .strip_prefix("Token ")
                .or_else(|| value.strip_prefix("token "))
                .or_else(|| value.strip_prefix("Bearer "))
        }
        Provider::OpenAi => header("authorization")?.strip_prefix("Bearer "),
        Provider::ElevenLabs => header("xi-api-key"),
    }
}

/// What a request may go on with.
#[derive(Debug, Default)]
pub(crate) struct Admitted {
    /// An injected `drop` fault's limit.
    pub drop_after: Option<u64>,
    /// The fault applied, for the report.
    pub fault: Option<String>,
}

/// Checks the key `service`'s clients present.
pub(crate) fn authorize(
    shared: &Shared,
    service: Service,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let provider = service.provider();
    if shared
        .config
        .keys
        .accepts(provider, presented_key(provider, headers))
    {
        return Ok(());
    }
    shared.refused(service, 401, "API key missing or not accepted");
    Err(ApiError::unauthorized(service.api()))
}

/// Checks the key, then applies the service's fault: refuses, stalls until shutdown,
/// delays, or lets the request through (possibly marked to be cut short).
pub(crate) async fn admit(
    shared: &Shared,
    service: Service,
    headers: &HeaderMap,
) -> Result<Admitted, ApiError> {
    authorize(shared, service, headers)?;
    let Some(kind) = shared.take_fault(service) else {
        return Ok(Admitted::default());
    };
    let fault = Some(kind.label());
    match kind {
        FaultKind::Status { code } => {
            shared.refused(service, code, kind.label());
            Err(ApiError::injected(service.api(), code))
        }
        FaultKind::Stall => {
            shared.closed().await;
            Err(ApiError::injected(service.api(), 503))
        }
        FaultKind::SlowFirstByte { ms } => {
            shared.sleep_ms(ms).await;
            Ok(Admitted {
                drop_after: None,
                fault,
            })
        }
        FaultKind::Drop { after } => Ok(Admitted {
            drop_after: Some(after),
            fault,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn each_provider_reads_its_own_header() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Token dg"));
        headers.insert("xi-api-key", HeaderValue::from_static("xi"));
        assert_eq!(presented_key(Provider::Deepgram, &headers), Some("dg"));
        assert_eq!(presented_key(Provider::OpenAi, &headers), None);
        assert_eq!(presented_key(Provider::ElevenLabs, &headers), Some("xi"));
    }
}
