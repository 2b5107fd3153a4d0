//! ElevenLabs streaming TTS: asked for `ulaw_8000`, its bytes are already the phone's
//! format and go straight through.

use crate::providers::http::Endpoint;
use crate::providers::{ProviderError, Tts, TtsRequest, TtsStream};
use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde_json::json;

/// The ElevenLabs client.
#[derive(Debug, Clone)]
pub struct ElevenLabsTts {
    endpoint: Endpoint,
    client: reqwest::Client,
    default_model: String,
    default_voice: String,
}

impl ElevenLabsTts {
    /// A client; the defaults serve requests that name no model or voice.
    pub fn new(
        endpoint: Endpoint,
        client: reqwest::Client,
        default_model: String,
        default_voice: String,
    ) -> Self {
        Self {
            endpoint,
            client,
            default_model,
            default_voice,
        }
    }

    /// `/v1/text-to-speech/{voice}/stream?output_format=ulaw_8000`.
    pub fn url(&self, voice: &str) -> Result<url::Url, ProviderError> {
        let mut url = self.endpoint.url("v1/text-to-speech")?;
        url.path_segments_mut()
            .map_err(|()| {
                self.endpoint
                    .not_configured("base URL cannot take a path".into())
            })?
            .push(voice)
            .push("stream");
        url.query_pairs_mut()
            .append_pair("output_format", "ulaw_8000");
        Ok(url)
    }
}

#[async_trait]
impl Tts for ElevenLabsTts {
    fn name(&self) -> &str {
        &self.endpoint.provider
    }

    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, ProviderError> {
        let voice = super::given_or(Some(&request.voice), &self.default_voice);
        let model = super::given_or(request.model.as_deref(), &self.default_model);
        let mut http = self
            .client
            .post(self.url(voice)?)
            .json(&json!({"text": request.text, "model_id": model}));
        if let Some(key) = &self.endpoint.api_key {
            http = http.header("xi-api-key", key.expose_secret());
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

    fn client(base: &str) -> ElevenLabsTts {
        let endpoint = Endpoint::new("elevenlabs", base, Some(SecretString::from("xi-key")));
        ElevenLabsTts::new(
            endpoint,
            reqwest::Client::new(),
            "eleven_flash_v2_5".into(),
            "rachel".into(),
        )
    }

    #[tokio::test]
    async fn the_request_names_the_voice_in_the_path_and_mulaw_in_the_query() {
        let (base, seen) = serve(StatusCode::OK, vec![vec![0xff; 100], vec![0x7f; 60]]).await;
        let request = TtsRequest {
            text: "Hello".into(),
            voice: "voice 1".into(),
            model: None,
        };
        let audio: Vec<_> = client(&base)
            .synthesize(request)
            .await
            .unwrap()
            .collect()
            .await;
        let bytes: Vec<u8> = audio
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        assert_eq!(bytes.len(), 160);
        let seen = seen.lock().unwrap()[0].clone();
        assert_eq!(
            seen.uri,
            "/v1/text-to-speech/voice%201/stream?output_format=ulaw_8000"
        );
        assert_eq!(seen.headers["xi-api-key"], "xi-key");
        assert_eq!(
            seen.body,
            json!({"text": "Hello", "model_id": "eleven_flash_v2_5"})
        );
    }

    #[tokio::test]
    async fn an_empty_voice_uses_the_default_and_errors_carry_the_status() {
        let (base, seen) = serve(
            StatusCode::UNAUTHORIZED,
            vec![b"{\"detail\":\"bad key\"}".to_vec()],
        )
        .await;
        let request = TtsRequest {
            text: "Hi".into(),
            voice: String::new(),
            model: Some("eleven_turbo_v2_5".into()),
        };
        let error = client(&base).synthesize(request).await.err().unwrap();
        assert!(
            matches!(error, ProviderError::Status { status: 401, ref body, .. } if body.contains("bad key"))
        );
        let seen = seen.lock().unwrap()[0].clone();
        assert!(seen.uri.starts_with("/v1/text-to-speech/rachel/stream"));
        assert_eq!(seen.body["model_id"], "eleven_turbo_v2_5");
    }
}
