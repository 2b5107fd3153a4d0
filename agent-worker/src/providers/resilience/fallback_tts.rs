//! A `Tts` made of a chain: the job's provider and voice, then the configured fallbacks
//! with their own default voices (a voice id means nothing to another provider).
//!
//! `synthesize` resolves once some provider produced its first audio bytes; the stream
//! then runs under the idle and total limits, and a later error is passed through.

use super::retry::{try_chain, RetryPolicy};
use super::timed::{limited, StreamLimits};
use super::Link;
use crate::providers::cost::{Kind, UsageMeter};
use crate::providers::{ProviderError, Tts, TtsRequest, TtsStream};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use std::sync::Arc;
use tokio::time::Instant;

/// The chain of TTS providers for one call.
pub struct FallbackTts {
    links: Vec<Link<dyn Tts>>,
    retry: RetryPolicy,
    limits: StreamLimits,
    meter: UsageMeter,
}

impl std::fmt::Debug for FallbackTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackTts")
            .field("links", &self.links)
            .finish_non_exhaustive()
    }
}

impl FallbackTts {
    /// A chain; `links[0]` is the job's provider.
    pub fn new(
        links: Vec<Link<dyn Tts>>,
        retry: RetryPolicy,
        limits: StreamLimits,
        meter: UsageMeter,
    ) -> Self {
        Self {
            links,
            retry,
            limits,
            meter,
        }
    }
}

/// The request as `link` must receive it: a fallback gets its own voice and model, never
/// the job's (an ElevenLabs model id means nothing to OpenAI).
fn for_link(link: &Link<dyn Tts>, request: &TtsRequest) -> TtsRequest {
    let job_model = request.model.clone().filter(|m| !m.trim().is_empty());
    let model = if link.primary {
        job_model.or_else(|| link.model.clone())
    } else {
        link.model.clone()
    };
    TtsRequest {
        text: request.text.clone(),
        voice: link.voice_for(&request.voice),
        model,
    }
}

#[async_trait]
impl Tts for FallbackTts {
    fn name(&self) -> &str {
        self.links.first().map_or("none", |l| l.name.as_str())
    }

    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, ProviderError> {
        let started = Instant::now();
        let answered = try_chain(
            &self.links,
            0..self.links.len(),
            &self.retry,
            self.limits.first,
            Kind::Tts,
            &self.meter,
            |link| {
                let provider = Arc::clone(&link.provider);
                let request = for_link(link, &request);
                async move {
                    let mut audio = provider.synthesize(request).await?;
                    // Empty chunks are not a first byte.
                    while let Some(chunk) = audio.next().await {
                        match chunk {
                            Ok(bytes) if bytes.is_empty() => continue,
                            Ok(bytes) => return Ok((Some(bytes), audio)),
                            Err(error) => return Err(error),
                        }
                    }
                    Ok((None, audio))
                }
            },
        )
        .await?;
        let link = &self.links[answered.index];
        if !link.primary {
            self.meter.fallback(Kind::Tts);
        }
        self.meter
            .tts_characters(&link.name, request.text.chars().count() as u64);
        let (first, rest) = answered.value;
        let meter = self.meter.clone();
        let breaker = Arc::clone(&link.breaker);
        let name = link.name.clone();
        let audio = stream::iter(first.map(Ok::<Bytes, ProviderError>))
            .chain(limited(rest, &link.name, self.limits, started))
            .inspect(move |chunk| {
                if let Err(error) = chunk {
                    meter.error(Kind::Tts, &name);
                    breaker.report_failure(error);
                }
            });
        Ok(audio.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::resilience::testing::{limits, policy, tts_chain, FakeTts, Plan};

    fn request() -> TtsRequest {
        TtsRequest {
            text: "Hello there".into(),
            voice: "job-voice".into(),
            model: Some("job-model".into()),
        }
    }

    fn unavailable(provider: &str) -> ProviderError {
        ProviderError::Status {
            provider: provider.into(),
            status: 503,
            body: "busy".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_fallback_speaks_with_its_own_voice_and_the_characters_are_counted_once() {
        let a = FakeTts::new(
            "a",
            vec![Plan::Fail(unavailable("a")), Plan::Fail(unavailable("a"))],
        );
        let b = FakeTts::new(
            "b",
            vec![Plan::Items(vec![
                Ok(Bytes::new()),
                Ok(Bytes::from_static(b"\x01\x02")),
                Ok(Bytes::from_static(b"\x03")),
            ])],
        );
        let meter = UsageMeter::new();
        let tts = FallbackTts::new(
            tts_chain(vec![a.clone(), b.clone()]),
            policy(),
            limits(),
            meter.clone(),
        );
        let chunks: Vec<_> = tts.synthesize(request()).await.unwrap().collect().await;
        assert_eq!(
            chunks,
            vec![
                Ok(Bytes::from_static(b"\x01\x02")),
                Ok(Bytes::from_static(b"\x03"))
            ]
        );
        assert_eq!(a.requests()[0].voice, "job-voice");
        let to_b = &b.requests()[0];
        assert_eq!(to_b.voice, "b-voice");
        assert_eq!(to_b.model, None);
        let usage = meter.snapshot();
        assert_eq!(usage.tts["b"].characters, 11);
        assert_eq!(usage.tts["a"].characters, 0);
        assert_eq!(usage.tts["a"].errors, 2);
        assert_eq!(usage.resilience.tts_fallbacks, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_after_the_first_bytes_is_passed_through_without_fallback() {
        let a = FakeTts::new(
            "a",
            vec![Plan::Items(vec![
                Ok(Bytes::from_static(b"\x01")),
                Err(unavailable("a")),
            ])],
        );
        let b = FakeTts::new("b", vec![]);
        let meter = UsageMeter::new();
        let tts = FallbackTts::new(
            tts_chain(vec![a, b.clone()]),
            policy(),
            limits(),
            meter.clone(),
        );
        let chunks: Vec<_> = tts.synthesize(request()).await.unwrap().collect().await;
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1], Err(unavailable("a")));
        assert!(b.requests().is_empty());
        assert_eq!(meter.snapshot().tts["a"].errors, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_provider_that_never_sends_audio_times_out_and_the_next_one_speaks() {
        let a = FakeTts::new("a", vec![Plan::ItemsThenHang(vec![]), Plan::Hang]);
        let b = FakeTts::new(
            "b",
            vec![Plan::Items(vec![Ok(Bytes::from_static(b"\x01"))])],
        );
        let tts = FallbackTts::new(
            tts_chain(vec![a.clone(), b]),
            policy(),
            limits(),
            UsageMeter::new(),
        );
        let started = Instant::now();
        let chunks: Vec<_> = tts.synthesize(request()).await.unwrap().collect().await;
        assert_eq!(chunks, vec![Ok(Bytes::from_static(b"\x01"))]);
        assert_eq!(a.requests().len(), 2);
        assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    }
}
