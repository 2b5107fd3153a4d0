//! Starting the emulator and driving it from a test.

use super::config::ProviderConfig;
use super::faults::Fault;
use super::report::Report;
use super::state::Shared;
use super::{deepgram_listen, deepgram_speak, elevenlabs, inspect, openai_audio, openai_chat};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep, Duration, Instant};

/// A wait that gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {0:?} waiting for {1}")]
pub struct WaitTimeout(pub Duration, pub String);

/// A running provider emulator: Deepgram, OpenAI and ElevenLabs on one listener.
/// Dropping it shuts the server down (open sockets are closed, stalls released).
pub struct ProviderEmulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    closing: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ProviderEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderEmulator")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl ProviderEmulator {
    /// Binds `config.listen` and serves every provider API plus `/_emulator/...`.
    pub async fn start(config: ProviderConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let (closing, watcher) = watch::channel(false);
        let shared = Arc::new(Shared::new(config, watcher.clone()));
        let app = deepgram_listen::router()
            .merge(deepgram_speak::router())
            .merge(openai_chat::router())
            .merge(openai_audio::router())
            .merge(elevenlabs::router())
            .merge(inspect::router())
            .with_state(shared.clone());
        let mut signal = watcher;
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = signal.wait_for(|c| *c).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!("provider emulator stopped: {e}");
            }
        });
        Ok(ProviderEmulator {
            shared,
            addr,
            base_url: format!("http://{addr}"),
            closing,
            server: Some(server),
        })
    }

    /// `http://127.0.0.1:PORT`: ElevenLabs' base URL, and Deepgram's over REST.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `http://127.0.0.1:PORT/v1`: what OpenAI clients take as their base URL.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.base_url)
    }

    /// `ws://127.0.0.1:PORT`: Deepgram's base URL for its WebSockets.
    pub fn ws_base_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the fault of `fault.service` (`times: Some(0)` clears it).
    pub fn set_fault(&self, fault: Fault) {
        self.shared.faults().set(fault);
    }

    /// [`Self::set_fault`] for each.
    pub fn set_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        let mut table = self.shared.faults();
        for fault in faults {
            table.set(fault);
        }
    }

    /// Clears every fault.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// The faults active now, with requests left.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults().list()
    }

    /// Makes the next `n` post-call analysis answers invalid (structured data of the
    /// wrong types), as a model that ignored the schema.
    pub fn answer_analyses_invalidly(&self, n: u32) {
        self.shared.set_invalid_analyses(n);
    }

    /// A snapshot of everything recorded.
    pub fn report(&self) -> Report {
        self.shared.report().clone()
    }

    /// Forgets everything recorded.
    pub fn reset_report(&self) {
        *self.shared.report() = Report::default();
    }

    /// TTS cache lookups answered without encoding, and those that encoded.
    pub fn tts_cache_stats(&self) -> (u64, u64) {
        self.shared.cache.stats()
    }

    /// Waits until `check` holds for the report, polling every 10 ms.
    pub async fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        check: impl Fn(&Report) -> bool,
    ) -> Result<Report, WaitTimeout> {
        let deadline = Instant::now() + limit;
        loop {
            let report = self.report();
            if check(&report) {
                return Ok(report);
            }
            if Instant::now() >= deadline {
                return Err(WaitTimeout(limit, what.to_string()));
            }
            sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops accepting, ends open sockets and stalled requests, and waits (up to 5 s)
    /// for connections to finish.
    pub async fn shutdown(mut self) {
        let _ = self.closing.send(true);
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for ProviderEmulator {
    fn drop(&mut self) {
        let _ = self.closing.send(true);
    }
}
