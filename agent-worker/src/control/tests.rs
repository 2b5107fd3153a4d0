//! The reporter against a stand-in events endpoint with the control plane's rules
//! (ordered, idempotent, 409 on a gap, a batch applied whole or not at all), which can
//! also fail on demand. `tests/control.rs` runs the same client against the real one.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{json, Value};
use shared::events::{CallEvent, EventKind, Speaker};

use super::*;

#[derive(Default)]
struct Endpoint {
    applied: Vec<CallEvent>,
    /// Answer this many posts with 503 before looking at them.
    unavailable: usize,
    /// Refuse every post with 401.
    refuse_token: bool,
    posts: usize,
}

type Shared = Arc<Mutex<Endpoint>>;

async fn events(
    State(endpoint): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut endpoint = endpoint.lock().unwrap();
    endpoint.posts += 1;
    if endpoint.unavailable > 0 {
        endpoint.unavailable -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({})));
    }
    if endpoint.refuse_token || headers["authorization"] != "Bearer call-token" {
        return (StatusCode::UNAUTHORIZED, Json(json!({})));
    }
    let mut batch: Vec<CallEvent> = serde_json::from_value(body["events"].clone()).unwrap();
    batch.sort_by_key(|e| e.seq);
    let mut last = endpoint.applied.len() as i64;
    let mut accepted = Vec::new();
    for event in batch {
        if event.seq <= last {
            continue;
        }
        if event.seq != last + 1 {
            return (
                StatusCode::CONFLICT,
                Json(json!({"error": {"code": "conflict"}})),
            );
        }
        if matches!(&event.kind, EventKind::Transfer { to } if to == "nowhere") {
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({})));
        }
        last = event.seq;
        accepted.push(event);
    }
    endpoint.applied.extend(accepted);
    (StatusCode::OK, Json(json!({ "acknowledged": last })))
}

async fn serve(endpoint: Shared) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/events", post(events))
        .with_state(endpoint);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn reporter(endpoint: &Shared, config: ReporterConfig) -> EventReporter {
    let addr = serve(endpoint.clone()).await;
    let control = ControlPlane::new(format!("http://{addr}"), reqwest::Client::new());
    EventReporter::start(
        control,
        format!("http://{addr}/events"),
        SecretString::from("call-token"),
        config,
    )
}

fn fast() -> ReporterConfig {
    ReporterConfig {
        max_batch: 4,
        retry_initial: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
        ..ReporterConfig::default()
    }
}

fn line(n: i64) -> EventKind {
    EventKind::Transcript {
        speaker: Speaker::Agent,
        text: format!("line {n}"),
        start_ms: n,
        end_ms: n,
        confidence: None,
    }
}

fn applied(endpoint: &Shared) -> Vec<(i64, EventKind)> {
    endpoint
        .lock()
        .unwrap()
        .applied
        .iter()
        .map(|e| (e.seq, e.kind.clone()))
        .collect()
}

#[tokio::test]
async fn events_are_numbered_in_order_and_retried_until_the_endpoint_answers() {
    let endpoint = Shared::default();
    endpoint.lock().unwrap().unavailable = 5;
    let reporter = reporter(&endpoint, fast()).await;
    for n in 1..=10 {
        reporter.report_at(line(n), n * 100).await.unwrap();
    }
    let handle = reporter.clone();
    assert!(reporter.finish(Duration::from_secs(5)).await);
    let applied = applied(&endpoint);
    assert_eq!(applied, (1..=10).map(|n| (n, line(n))).collect::<Vec<_>>());
    assert_eq!(endpoint.lock().unwrap().applied[3].at_ms, 400);
    assert_eq!(handle.stats().delivered, 10);
    assert!(endpoint.lock().unwrap().posts > 5);
}

#[tokio::test]
async fn a_refused_event_is_dropped_and_the_others_keep_contiguous_numbers() {
    let endpoint = Shared::default();
    let reporter = reporter(&endpoint, fast()).await;
    let handle = reporter.clone();
    reporter.report(line(1)).await.unwrap();
    reporter
        .report(EventKind::Transfer {
            to: "nowhere".into(),
        })
        .await
        .unwrap();
    for n in 2..=6 {
        reporter.report(line(n)).await.unwrap();
    }
    assert!(reporter.finish(Duration::from_secs(5)).await);
    let applied = applied(&endpoint);
    assert_eq!(applied, (1..=6).map(|n| (n, line(n))).collect::<Vec<_>>());
    let stats = handle.stats();
    assert_eq!((stats.delivered, stats.rejected), (6, 1));
}

#[tokio::test]
async fn after_a_gap_the_reporter_numbers_from_what_the_endpoint_has() {
    let endpoint = Shared::default();
    let reporter = reporter(&endpoint, fast()).await;
    for n in 1..=3 {
        reporter.report(line(n)).await.unwrap();
    }
    while reporter.stats().delivered < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    endpoint.lock().unwrap().applied.truncate(1);
    reporter.report(line(4)).await.unwrap();
    assert!(reporter.finish(Duration::from_secs(5)).await);
    assert_eq!(applied(&endpoint), vec![(1, line(1)), (2, line(4))]);
}

#[tokio::test]
async fn refused_credentials_stop_the_reporter() {
    let endpoint = Shared::default();
    endpoint.lock().unwrap().refuse_token = true;
    let reporter = reporter(&endpoint, fast()).await;
    let handle = reporter.clone();
    reporter.report(line(1)).await.unwrap();
    assert!(!reporter.finish(Duration::from_secs(5)).await);
    assert_eq!(handle.report(line(2)).await, Err(ReporterClosed));
    assert_eq!(endpoint.lock().unwrap().posts, 1, "no retries on a 401");
}

#[tokio::test]
async fn finish_gives_up_at_its_timeout_while_the_endpoint_is_down() {
    let endpoint = Shared::default();
    endpoint.lock().unwrap().unavailable = usize::MAX;
    let reporter = reporter(&endpoint, fast()).await;
    let handle = reporter.clone();
    reporter.report(line(1)).await.unwrap();
    let started = std::time::Instant::now();
    assert!(!reporter.finish(Duration::from_millis(200)).await);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(handle.stats().delivered, 0);
}
