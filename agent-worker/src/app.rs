//! The worker process: its shared state, HTTP surface (`/twilio/media`, `/health`,
//! `/ready`, `/metrics`), call admission and the drain on shutdown.
//!
//! Admission is a semaphore sized to `max_calls` (as mini-redis bounds connections): a
//! stream beyond it is refused before the upgrade, so a worker never holds more calls
//! than it can.

use crate::audio::recording::RecordingStore;
use crate::config::WorkerConfig;
use crate::control::heartbeat::{self, Capacity, HeartbeatConfig};
use crate::control::ControlPlane;
use crate::metrics::WorkerMetrics;
use crate::pipeline::phrases::PhraseCache;
use crate::providers::registry::Providers;
use crate::transport::twilio::signature;
use anyhow::Context;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde_json::json;
use shared::job::{CallJob, CallMode};
use shared::token::CallTokens;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Phrase audio kept per process (8 kHz mu-law: 1 MB is about two minutes).
const PHRASE_CACHE_BYTES: usize = 16 << 20;

/// State shared by every call in the process.
pub struct Worker {
    pub config: Arc<WorkerConfig>,
    pub worker_id: String,
    pub providers: Providers,
    pub phrases: PhraseCache,
    pub metrics: WorkerMetrics,
    pub tokens: CallTokens,
    pub control: ControlPlane,
    pub http: reqwest::Client,
    /// Call slots: admission and what heartbeats report.
    pub capacity: Arc<Capacity>,
    /// Set on SIGTERM: no new calls.
    pub draining: AtomicBool,
    /// Cancelled on SIGTERM: the heartbeat sends its draining beat and stops.
    pub shutdown: CancellationToken,
    /// Live calls, to wait for when draining.
    pub calls: TaskTracker,
    /// Where call recordings go (`None` when recording is off).
    pub recordings: Option<RecordingStore>,
    /// Standalone mode's assistant.
    pub standalone_job: Option<CallJob>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("worker_id", &self.worker_id)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Builds the shared state from the settings.
    pub fn new(config: WorkerConfig) -> anyhow::Result<Arc<Self>> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .context("building the HTTP client")?;
        let providers = Providers::new(config.providers.clone()).context("provider settings")?;
        let standalone_job = if config.standalone.enabled {
            let path = config
                .standalone
                .assistant_file
                .as_ref()
                .context("standalone mode needs standalone.assistant_file")?;
            Some(crate::standalone::load_job(path)?)
        } else {
            None
        };
        let recordings =
            RecordingStore::from_config(&config.recording).context("recording settings")?;
        let worker = Worker {
            worker_id: config.worker_id(),
            providers,
            phrases: PhraseCache::new(PHRASE_CACHE_BYTES),
            metrics: WorkerMetrics::default(),
            tokens: CallTokens::new(config.control_plane.token_secret.expose_secret().as_bytes()),
            control: ControlPlane::new(&config.control_plane.url, http.clone()),
            http,
            capacity: Capacity::new(config.server.max_calls),
            draining: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            calls: TaskTracker::new(),
            standalone_job,
            recordings,
            config: Arc::new(config),
        };
        Ok(Arc::new(worker))
    }

    /// Stops taking calls; live ones go on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.shutdown.cancel();
        self.calls.close();
    }

    /// Starts heartbeating free capacity to the control plane (until draining).
    pub fn spawn_heartbeat(self: &Arc<Self>) -> JoinHandle<()> {
        let mut config = HeartbeatConfig::new(self.worker_id.clone(), CallMode::TwilioStream);
        config.url = self.config.twilio.media_url.clone();
        config.interval =
            std::time::Duration::from_secs(self.config.control_plane.heartbeat_sec.max(1));
        heartbeat::spawn(
            self.control.clone(),
            self.config.control_plane.api_key.clone(),
            config,
            self.capacity.clone(),
            self.shutdown.clone(),
        )
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// The worker's HTTP surface.
pub fn router(worker: Arc<Worker>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/twilio/media", get(twilio_media))
        .with_state(worker)
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "service": "agent-worker" }))
}

async fn ready(State(worker): State<Arc<Worker>>) -> Response {
    let active = worker.capacity.active();
    let body = json!({
        "ready": !worker.is_draining(),
        "activeCalls": active,
        "maxCalls": worker.config.server.max_calls,
        "workerId": worker.worker_id,
    });
    let status = if worker.is_draining() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(worker): State<Arc<Worker>>) -> Response {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        worker.metrics.encode(),
    )
        .into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The Media Streams WebSocket: checked and admitted before the upgrade.
async fn twilio_media(
    State(worker): State<Arc<Worker>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if worker.is_draining() {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "worker is draining");
    }
    if let Some(token) = &worker.config.twilio.auth_token {
        let url = worker
            .config
            .twilio
            .media_url
            .as_deref()
            .unwrap_or_default();
        let signed = headers
            .get(signature::HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|sig| signature::verify(token.expose_secret(), url, sig));
        if !signed {
            return refuse(StatusCode::FORBIDDEN, "invalid X-Twilio-Signature");
        }
    }
    let Some(slot) = worker.capacity.try_acquire() else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "worker is at capacity");
    };
    let tracker = worker.calls.clone();
    upgrade.on_upgrade(move |socket| {
        tracker.track_future(async move {
            crate::calls::take_twilio_call(worker, socket).await;
            drop(slot);
        })
    })
}
