//! Deepgram Aura TTS over REST: mu-law 8 kHz without a container, straight through.
//! An Aura voice is a model (`aura-2-thalia-en`), so the request's voice is the model.

use crate::providers::http::Endpoint;
use crate::providers::{ProviderError, Tts, TtsRequest, TtsStream};
use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde_json::json;

/// The Aura client.
#[derive(Debug, Clone)]
pub struct AuraTts {
    endpoint: Endpoint,
    client: reqwest::Client,
    default_voice: String,
}

impl AuraTts {
    /// A client; `default_voice` serves requests that name none.
    pub fn new(endpoint: Endpoint, client: reqwest::Client, default_voice: String) -> Self {
        Self {
            endpoint,
            client,
            default_voice,
        }
    }

    /// `/v1/speak?model=..&encoding=mulaw&sample_rate=8000&container=none`.
    pub fn url(&self, model: &str) -> Result<url::Url, ProviderError> {
        let mut url = self.endpoint.url("v1/speak")?;
        url.query_pairs_mut()
            .append_pair("model", model)
            .append_pair("encoding", "mulaw")
            .append_pair("sample_rate", "8000")
            .append_pair("container", "none");
        Ok(url)
    }
}

#[async_trait]
impl Tts for AuraTts {
    fn name(&self) -> &str {
        &self.endpoint.provider
    }

    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, ProviderError> {
        let model = [Some(request.voice.as_str()), request.model.as_deref()]
            .into_iter()
            .flatten()
            .find(|m| !m.trim().is_empty())
            .unwrap_or(&self.default_voice);
        let mut http = self
            .client
            .post(self.url(model)?)
            .json(&json!({"text": request.text}));
        if let Some(key) = &self.endpoint.api_key {
            http = http.header("Authorization", format!("Token {}", key.expose_secret()));
        }
        let response = self.endpoint.send(http, 0).await?;
        Ok(self.endpoint.byte_stream(response, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tts::testing::serve;
    use axum::http::StatusCode;
    use futures::StreamExt;
    use secrecy::SecretString;

    #[tokio::test]
    async fn the_voice_is_the_model_and_the_key_is_a_token() {
        let (base, seen) = serve(StatusCode::OK, vec![vec![0xff; 320]]).await;
        let endpoint = Endpoint::new("deepgram", &base, Some(SecretString::from("dg")));
        let tts = AuraTts::new(endpoint, reqwest::Client::new(), "aura-2-thalia-en".into());
        let request = TtsRequest {
            text: "Hi".into(),
            voice: "aura-2-orion-en".into(),
            model: None,
        };
        let audio: Vec<_> = tts.synthesize(request).await.unwrap().collect().await;
        assert_eq!(audio.len(), 1);
        let seen = seen.lock().unwrap()[0].clone();
        assert_eq!(
            seen.uri,
            "/v1/speak?model=aura-2-orion-en&encoding=mulaw&sample_rate=8000&container=none"
        );
        assert_eq!(seen.headers["authorization"], "Token dg");
        assert_eq!(seen.body, json!({"text": "Hi"}));
    }
}
