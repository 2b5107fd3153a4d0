//! Scripted in-memory providers that drive the fallback layer in tests.

use super::{Breakers, Link, RetryPolicy, StreamLimits};
use crate::providers::config::BreakerConfig;
use crate::providers::stt::receiver_stream;
use crate::providers::{
    Llm, LlmEvent, LlmRequest, ProviderError, Stt, SttEvent, SttInput, SttOptions, SttSession, Tts,
    TtsRequest, TtsStream,
};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// What one request to a fake does.
pub(crate) enum Plan<T> {
    /// The request fails before any output.
    Fail(ProviderError),
    /// The stream yields these, then ends.
    Items(Vec<Result<T, ProviderError>>),
    /// The stream yields these, then never yields again.
    ItemsThenHang(Vec<Result<T, ProviderError>>),
    /// The request never answers.
    Hang,
}

fn no_plan(name: &str) -> ProviderError {
    ProviderError::Connection {
        provider: name.into(),
        message: "no plan left".into(),
    }
}

async fn play<T: Send + 'static>(
    name: &str,
    plan: Option<Plan<T>>,
) -> Result<BoxStream<'static, Result<T, ProviderError>>, ProviderError> {
    match plan {
        None => Err(no_plan(name)),
        Some(Plan::Fail(error)) => Err(error),
        Some(Plan::Items(items)) => Ok(stream::iter(items).boxed()),
        Some(Plan::ItemsThenHang(items)) => {
            Ok(stream::iter(items).chain(stream::pending()).boxed())
        }
        Some(Plan::Hang) => std::future::pending().await,
    }
}

/// Retries: 2 tries, short backoff.
pub(crate) fn policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        base: Duration::from_millis(10),
        max: Duration::from_millis(20),
    }
}

/// 1 s to the first item, 0.5 s between items, 10 s in all.
pub(crate) fn limits() -> StreamLimits {
    StreamLimits {
        first: Duration::from_secs(1),
        idle: Duration::from_millis(500),
        total: Duration::from_secs(10),
    }
}

/// A scripted LLM.
pub(crate) struct FakeLlm {
    name: String,
    plans: Mutex<VecDeque<Plan<LlmEvent>>>,
    requests: Mutex<Vec<LlmRequest>>,
}

impl FakeLlm {
    pub(crate) fn new(name: &str, plans: Vec<Plan<LlmEvent>>) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            plans: Mutex::new(plans.into()),
            requests: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn requests(&self) -> Vec<LlmRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl Llm for FakeLlm {
    fn name(&self) -> &str {
        &self.name
    }

    async fn stream(
        &self,
        request: LlmRequest,
    ) -> Result<BoxStream<'static, Result<LlmEvent, ProviderError>>, ProviderError> {
        self.requests.lock().unwrap().push(request);
        let plan = self.plans.lock().unwrap().pop_front();
        play(&self.name, plan).await
    }
}

/// LLM links, the first primary, each with `model` for fallback use.
pub(crate) fn chain_of(fakes: Vec<Arc<FakeLlm>>, model: &str) -> Vec<Link<dyn Llm>> {
    let breakers = Breakers::new(BreakerConfig::default());
    fakes
        .into_iter()
        .enumerate()
        .map(|(i, fake)| {
            let name = fake.name.clone();
            let provider: Arc<dyn Llm> = fake;
            Link::new(&name, provider, breakers.get("llm", &name), i == 0)
                .with_defaults(Some(model.into()), None)
        })
        .collect()
}

/// A scripted TTS.
pub(crate) struct FakeTts {
    name: String,
    plans: Mutex<VecDeque<Plan<Bytes>>>,
    requests: Mutex<Vec<TtsRequest>>,
}

impl FakeTts {
    pub(crate) fn new(name: &str, plans: Vec<Plan<Bytes>>) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            plans: Mutex::new(plans.into()),
            requests: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn requests(&self) -> Vec<TtsRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl Tts for FakeTts {
    fn name(&self) -> &str {
        &self.name
    }

    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, ProviderError> {
        self.requests.lock().unwrap().push(request);
        let plan = self.plans.lock().unwrap().pop_front();
        play(&self.name, plan).await
    }
}

/// TTS links, the first primary, each with its own `<name>-voice` for fallback use.
pub(crate) fn tts_chain(fakes: Vec<Arc<FakeTts>>) -> Vec<Link<dyn Tts>> {
    let breakers = Breakers::new(BreakerConfig::default());
    fakes
        .into_iter()
        .enumerate()
        .map(|(i, fake)| {
            let name = fake.name.clone();
            let voice = format!("{name}-voice");
            let provider: Arc<dyn Tts> = fake;
            Link::new(&name, provider, breakers.get("tts", &name), i == 0)
                .with_defaults(None, Some(voice))
        })
        .collect()
}

/// What one fake STT session does.
#[derive(Clone, Copy)]
pub(crate) enum SessionPlan {
    /// `open` fails.
    FailOpen,
    /// Works: each `Finalize` yields a `Final` naming the provider and covering the audio
    /// the session received (session times), then ends when its input closes.
    Works,
    /// Fails with a connection error after receiving this many audio frames.
    DiesAfter(usize),
    /// Works, but opening takes this many milliseconds.
    SlowOpen(u64),
}

/// A scripted STT that records the audio each session received.
pub(crate) struct FakeStt {
    name: String,
    plans: Mutex<VecDeque<SessionPlan>>,
    /// Audio bytes received, per session opened.
    pub(crate) received: Arc<Mutex<Vec<Vec<u8>>>>,
    pub(crate) models: Mutex<Vec<String>>,
}

impl FakeStt {
    pub(crate) fn new(name: &str, plans: Vec<SessionPlan>) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            plans: Mutex::new(plans.into()),
            received: Arc::new(Mutex::new(Vec::new())),
            models: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl Stt for FakeStt {
    fn name(&self) -> &str {
        &self.name
    }

    async fn open(&self, options: &SttOptions) -> Result<SttSession, ProviderError> {
        self.models.lock().unwrap().push(options.model.clone());
        let plan = self.plans.lock().unwrap().pop_front();
        let die_after = match plan {
            None | Some(SessionPlan::FailOpen) => return Err(no_plan(&self.name)),
            Some(SessionPlan::Works) => usize::MAX,
            Some(SessionPlan::DiesAfter(frames)) => frames,
            Some(SessionPlan::SlowOpen(ms)) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                usize::MAX
            }
        };
        let (audio, mut input) = mpsc::channel::<SttInput>(8);
        let (events, output) = mpsc::channel(8);
        let received = Arc::clone(&self.received);
        let index = {
            let mut all = received.lock().unwrap();
            all.push(Vec::new());
            all.len() - 1
        };
        let name = self.name.clone();
        tokio::spawn(async move {
            let (mut frames, mut bytes) = (0usize, 0u64);
            while let Some(message) = input.recv().await {
                match message {
                    SttInput::Audio { mulaw, .. } => {
                        if frames == die_after {
                            let error = ProviderError::Connection {
                                provider: name.clone(),
                                message: "dropped".into(),
                            };
                            let _ = events.send(Err(error)).await;
                            return;
                        }
                        frames += 1;
                        bytes += mulaw.len() as u64;
                        received.lock().unwrap()[index].extend_from_slice(&mulaw);
                    }
                    SttInput::Finalize => {
                        let event = SttEvent::Final {
                            text: name.clone(),
                            start_ms: 0,
                            end_ms: bytes / 8,
                            confidence: None,
                            speech_final: true,
                        };
                        if events.send(Ok(event)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(SttSession {
            audio,
            events: receiver_stream(output),
        })
    }
}

/// STT links, the first primary, each with `<name>-model` for fallback use.
pub(crate) fn stt_chain(fakes: Vec<Arc<FakeStt>>, breakers: &Breakers) -> Vec<Link<dyn Stt>> {
    fakes
        .into_iter()
        .enumerate()
        .map(|(i, fake)| {
            let name = fake.name.clone();
            let model = format!("{name}-model");
            let provider: Arc<dyn Stt> = fake;
            Link::new(&name, provider, breakers.get("stt", &name), i == 0)
                .with_defaults(Some(model), None)
        })
        .collect()
}
