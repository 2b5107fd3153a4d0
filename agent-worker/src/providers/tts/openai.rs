//! OpenAI TTS: raw 24 kHz 16-bit PCM, converted as it streams to 8 kHz mu-law.
//!
//! HTTP chunks split samples anywhere, so an odd trailing byte waits for the next chunk;
//! the resampler's filter removes what would alias above 4 kHz.

use crate::audio::mulaw;
use crate::audio::resample::Resampler;
use crate::providers::http::Endpoint;
use crate::providers::{ProviderError, Tts, TtsRequest, TtsStream};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use secrecy::ExposeSecret;
use serde_json::json;

/// OpenAI's PCM rate.
const PCM_RATE: u32 = 24_000;

/// The OpenAI TTS client.
#[derive(Debug, Clone)]
pub struct OpenAiTts {
    endpoint: Endpoint,
    client: reqwest::Client,
    default_model: String,
    default_voice: String,
}

impl OpenAiTts {
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
}

/// 24 kHz s16le bytes in, 8 kHz mu-law out, chunk by chunk.
#[derive(Debug)]
pub struct PcmToMulaw {
    resampler: Resampler,
    /// The first byte of a sample whose second byte is in the next chunk.
    odd: Option<u8>,
}

impl PcmToMulaw {
    /// A converter from `rate` Hz.
    pub fn new(rate: u32) -> Result<Self, crate::audio::resample::ResampleError> {
        Ok(Self {
            resampler: Resampler::new(rate, crate::audio::SAMPLE_RATE)?,
            odd: None,
        })
    }

    /// Converts what is complete in `bytes`.
    pub fn push(&mut self, bytes: &[u8]) -> Bytes {
        let mut samples = Vec::with_capacity(bytes.len() / 2 + 1);
        let mut rest = bytes;
        if let Some(low) = self.odd.take() {
            match rest.split_first() {
                Some((&high, tail)) => {
                    samples.push(i16::from_le_bytes([low, high]));
                    rest = tail;
                }
                None => {
                    self.odd = Some(low);
                    return Bytes::new();
                }
            }
        }
        let pairs = rest.chunks_exact(2);
        self.odd = pairs.remainder().first().copied();
        samples.extend(pairs.map(|p| i16::from_le_bytes([p[0], p[1]])));
        Bytes::from(mulaw::encode(&self.resampler.process(&samples)))
    }

    /// The end of the audio: the resampler's tail.
    pub fn finish(&mut self) -> Bytes {
        self.odd = None;
        Bytes::from(mulaw::encode(&self.resampler.flush()))
    }
}

struct Converting {
    body: BoxStream<'static, Result<Bytes, ProviderError>>,
    converter: PcmToMulaw,
    ended: bool,
}

impl Converting {
    async fn next(mut self) -> Option<(Result<Bytes, ProviderError>, Self)> {
        while !self.ended {
            let out = match self.body.next().await {
                Some(Ok(chunk)) => self.converter.push(&chunk),
                Some(Err(error)) => {
                    self.ended = true;
                    return Some((Err(error), self));
                }
                None => {
                    self.ended = true;
                    self.converter.finish()
                }
            };
            if !out.is_empty() {
                return Some((Ok(out), self));
            }
        }
        None
    }
}

#[async_trait]
impl Tts for OpenAiTts {
    fn name(&self) -> &str {
        &self.endpoint.provider
    }

    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, ProviderError> {
        let voice = super::given_or(Some(&request.voice), &self.default_voice);
        let model = super::given_or(request.model.as_deref(), &self.default_model);
        let converter =
            PcmToMulaw::new(PCM_RATE).map_err(|e| self.endpoint.protocol(e.to_string()))?;
        let body = json!({"model": model, "input": request.text, "voice": voice, "response_format": "pcm"});
        let mut http = self
            .client
            .post(self.endpoint.url("audio/speech")?)
            .json(&body);
        if let Some(key) = &self.endpoint.api_key {
            http = http.bearer_auth(key.expose_secret());
        }
        let response = self.endpoint.send(http, 0).await?;
        let converting = Converting {
            body: self.endpoint.byte_stream(response, 0),
            converter,
            ended: false,
        };
        Ok(stream::unfold(converting, Converting::next).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tts::testing::serve;
    use axum::http::StatusCode;
    use secrecy::SecretString;

    fn tone_pcm(samples: usize) -> Vec<u8> {
        (0..samples)
            .flat_map(|n| {
                let t = n as f64 / 24_000.0;
                let s = (8_000.0 * (2.0 * std::f64::consts::PI * 1_000.0 * t).sin()) as i16;
                s.to_le_bytes()
            })
            .collect()
    }

    #[test]
    fn odd_splits_of_the_pcm_give_the_same_mulaw_as_one_piece() {
        let pcm = tone_pcm(4_801);
        let mut whole = PcmToMulaw::new(24_000).unwrap();
        let mut expected = whole.push(&pcm).to_vec();
        expected.extend_from_slice(&whole.finish());

        let mut split = PcmToMulaw::new(24_000).unwrap();
        let mut out = Vec::new();
        for chunk in pcm.chunks(333) {
            out.extend_from_slice(&split.push(chunk));
        }
        out.extend_from_slice(&split.push(&[]));
        out.extend_from_slice(&split.finish());
        assert_eq!(out, expected);
        assert_eq!(out.len(), 1_601);
    }

    #[tokio::test]
    async fn the_pcm_reply_arrives_as_8khz_mulaw_and_the_request_asks_for_pcm() {
        let pcm = tone_pcm(24_000);
        let chunks: Vec<Vec<u8>> = pcm.chunks(1_001).map(<[u8]>::to_vec).collect();
        let (base, seen) = serve(StatusCode::OK, chunks).await;
        let endpoint = Endpoint::new(
            "openai",
            &format!("{base}/v1"),
            Some(SecretString::from("sk")),
        );
        let tts = OpenAiTts::new(
            endpoint,
            reqwest::Client::new(),
            "tts-1".into(),
            "alloy".into(),
        );
        let request = TtsRequest {
            text: "Hello".into(),
            voice: String::new(),
            model: None,
        };
        let audio: Vec<_> = tts.synthesize(request).await.unwrap().collect().await;
        let mulaw_bytes: Vec<u8> = audio
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        assert_eq!(mulaw_bytes.len(), 8_000);
        let samples = mulaw::decode(&mulaw_bytes);
        let peak = samples[1_000..7_000]
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap();
        assert!((7_500..8_500).contains(&peak), "peak {peak}");
        let seen = seen.lock().unwrap()[0].clone();
        assert_eq!(seen.uri, "/v1/audio/speech");
        assert_eq!(seen.headers["authorization"], "Bearer sk");
        assert_eq!(
            seen.body,
            json!({"model": "tts-1", "input": "Hello", "voice": "alloy", "response_format": "pcm"})
        );
    }
}
