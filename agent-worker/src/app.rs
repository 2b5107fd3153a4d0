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
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::phrases::PhraseCache;
use crate::providers::cost::Rates;
use crate::providers::registry::Providers;
use crate::transport::twilio::signature;
use anyhow::Context;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
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

/// WebSocket read buffer (see `twilio_media`).
pub const READ_BUFFER: usize = 4096;

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
    /// The conversation settings every session shares.
    pub pipeline: Arc<PipelineConfig>,
    /// Provider rates every call's cost is priced with.
    pub rates: Arc<Rates>,
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
    /// Live calls a supervisor can listen to and control.
    pub supervision: crate::supervision::Hub,
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
            control: ControlPlane::new(&config.control_plane.url, http),
            pipeline: Arc::new(config.pipeline.clone()),
            rates: Arc::new(config.providers.rates.clone()),
            capacity: Capacity::new(config.server.max_calls),
            draining: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            calls: TaskTracker::new(),
            standalone_job,
            recordings,
            supervision: Default::default(),
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
        config.supervise_url = self.config.server.supervise_url.clone();
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
        .merge(crate::supervision::endpoint::routes())
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
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
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
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let tracker = worker.calls.clone();
    // tungstenite zero-fills its whole read buffer on every read: at its 128 KiB default
    // that was a quarter of the worker's CPU. Media messages are under 1 KiB.
    upgrade
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                crate::calls::take_twilio_call(worker, socket).await;
                drop(slot);
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn worker(edit: impl FnOnce(&mut WorkerConfig)) -> Arc<Worker> {
        let mut config = WorkerConfig::default();
        config.recording.enabled = false;
        config.server.max_calls = 1;
        edit(&mut config);
        Worker::new(config).unwrap()
    }

    /// A WebSocket upgrade request for the media endpoint.
    fn upgrade(signature: Option<&str>) -> Request<Body> {
        let mut request = Request::get("/twilio/media")
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(signature) = signature {
            request = request.header(signature::HEADER, signature);
        }
        request.body(Body::empty()).unwrap()
    }

    async fn status_and_body(router: Router, request: Request<Body>) -> (StatusCode, String) {
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn health_ready_and_metrics_answer() {
        let worker = worker(|_| {});
        let (status, body) = status_and_body(
            router(worker.clone()),
            Request::get("/health").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("agent-worker"));
        let (status, body) = status_and_body(
            router(worker.clone()),
            Request::get("/ready").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("\"maxCalls\":1"));
        let (status, body) = status_and_body(
            router(worker),
            Request::get("/metrics").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("agent_turn_latency_seconds"));
    }

    #[tokio::test]
    async fn a_draining_worker_is_not_ready_and_refuses_streams() {
        let worker = worker(|_| {});
        worker.start_draining();
        let ready = Request::get("/ready").body(Body::empty()).unwrap();
        let (status, _) = status_and_body(router(worker.clone()), ready).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let (status, body) = status_and_body(router(worker), upgrade(None)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("draining"));
    }

    #[tokio::test]
    async fn a_full_worker_refuses_another_stream() {
        let worker = worker(|_| {});
        let _held = worker.capacity.try_acquire().unwrap();
        let (status, body) = status_and_body(router(worker), upgrade(None)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("capacity"));
    }

    #[tokio::test]
    async fn with_an_auth_token_set_the_upgrade_must_be_signed() {
        let url = "wss://worker.example.com/twilio/media";
        let worker = worker(|config| {
            config.twilio.auth_token = Some(secrecy::SecretString::from("12345"));
            config.twilio.media_url = Some(url.into());
        });
        let (status, _) = status_and_body(router(worker.clone()), upgrade(None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = status_and_body(router(worker.clone()), upgrade(Some("bm90IGl0"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Signed correctly, the request passes the check (and is refused only because a
        // oneshot request cannot really upgrade: 426).
        use base64::Engine;
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(b"12345").unwrap();
        mac.update(url.as_bytes());
        let good = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let (status, _) = status_and_body(router(worker), upgrade(Some(&good))).await;
        assert_eq!(status, StatusCode::UPGRADE_REQUIRED);
    }
}
