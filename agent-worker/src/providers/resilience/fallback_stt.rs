//! An `Stt` whose session survives its provider: when the live session errors or closes
//! unexpectedly mid-call, a supervisor task opens the same provider again (or the next
//! one) while the caller keeps talking, and the pipeline sees one unbroken session.
//!
//! While reconnecting, audio waits in a buffer of at most `buffer_ms`; older audio is
//! dropped and counted. Audio the dead session had received but not yet transcribed (since
//! its last final) is replayed to the new one, within the same bound, so words in flight
//! are not lost. Times from the new session are shifted by where its audio starts on the
//! call's clock. `Err` reaches the pipeline only when no provider could be opened, or when
//! sessions keep dying (more than `max_reconnects_per_minute`).

use super::retry::{try_chain, Answered, RetryPolicy};
use super::Link;
use crate::providers::cost::{Kind, UsageMeter};
use crate::providers::stt::receiver_stream;
use crate::providers::{ProviderError, Stt, SttOptions, SttSession};
use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

mod supervisor;

/// Frames the pipeline may queue before `send` waits (1.3 s of 20 ms frames).
const INPUT_CAPACITY: usize = 64;
/// Events waiting for the pipeline.
const EVENT_CAPACITY: usize = 64;

/// How the session layer behaves.
#[derive(Debug, Clone)]
pub struct SttSettings {
    pub retry: RetryPolicy,
    /// Opening one session (handshake included).
    pub open_timeout: Duration,
    /// Audio held while reconnecting (and replayed from the dead session).
    pub buffer_ms: u64,
    /// Beyond this many reconnects within a minute the session gives up.
    pub max_reconnects_per_minute: u32,
    /// A session that dies younger than this is not reopened first: the next provider is.
    pub stable_after: Duration,
}

impl Default for SttSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy {
                attempts: 2,
                base: Duration::from_millis(100),
                max: Duration::from_secs(1),
            },
            open_timeout: Duration::from_secs(5),
            buffer_ms: 1_000,
            max_reconnects_per_minute: 6,
            stable_after: Duration::from_secs(5),
        }
    }
}

/// The chain of STT providers for one call.
pub struct FallbackStt {
    links: Arc<[Link<dyn Stt>]>,
    settings: Arc<SttSettings>,
    meter: UsageMeter,
}

impl std::fmt::Debug for FallbackStt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackStt")
            .field("links", &self.links)
            .finish_non_exhaustive()
    }
}

impl FallbackStt {
    /// A chain; `links[0]` is the job's provider.
    pub fn new(links: Vec<Link<dyn Stt>>, settings: SttSettings, meter: UsageMeter) -> Self {
        Self {
            links: links.into(),
            settings: Arc::new(settings),
            meter,
        }
    }
}

type Opening = BoxFuture<'static, Result<Answered<SttSession>, ProviderError>>;

/// Opens the first link of `order` that will open.
fn open_in_order(
    links: Arc<[Link<dyn Stt>]>,
    order: Vec<usize>,
    settings: Arc<SttSettings>,
    meter: UsageMeter,
    options: SttOptions,
) -> Opening {
    async move {
        try_chain(
            &links,
            order,
            &settings.retry,
            settings.open_timeout,
            Kind::Stt,
            &meter,
            |link| {
                let provider = Arc::clone(&link.provider);
                let mut options = options.clone();
                options.model = link.model_for(&options.model);
                async move { provider.open(&options).await }
            },
        )
        .await
    }
    .boxed()
}

#[async_trait]
impl Stt for FallbackStt {
    fn name(&self) -> &str {
        self.links.first().map_or("none", |l| l.name.as_str())
    }

    async fn open(&self, options: &SttOptions) -> Result<SttSession, ProviderError> {
        let order = (0..self.links.len()).collect();
        let opened = open_in_order(
            Arc::clone(&self.links),
            order,
            Arc::clone(&self.settings),
            self.meter.clone(),
            options.clone(),
        )
        .await?;
        if !self.links[opened.index].primary {
            self.meter.fallback(Kind::Stt);
        }
        let (audio, input) = mpsc::channel(INPUT_CAPACITY);
        let (events, output) = mpsc::channel(EVENT_CAPACITY);
        let supervisor = supervisor::Supervisor::new(
            Arc::clone(&self.links),
            Arc::clone(&self.settings),
            self.meter.clone(),
            options.clone(),
            opened,
        );
        tokio::spawn(supervisor.run(input, events));
        Ok(SttSession {
            audio,
            events: receiver_stream(output),
        })
    }
}

#[cfg(test)]
mod tests;
