//! A customer's webhook receiver, as OUTBOUND_CALLS.md tells one to write it: it checks
//! every request's `Webhook-Signature` with its own HMAC code (nothing shared with the
//! sender), refuses a bad one with 401, ignores repeats by event id, and answers
//! pre-dial checks. It can fail each event's first attempts on purpose.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// How the receiver answers a pre-dial check for one phone number.
#[derive(Debug, Clone, Copy)]
pub enum PreDial {
    Eligible,
    Ineligible,
    /// Answers only after this long.
    Slow(Duration),
}

#[derive(Default)]
struct Inner {
    secret: String,
    /// Each event's first `fail_first` attempts get a 500.
    fail_first: u32,
    attempts: HashMap<String, u32>,
    /// Events taken, in the order they were first taken.
    accepted: Vec<Value>,
    duplicates: u32,
    rejected: u32,
    pre_dial: HashMap<String, PreDial>,
    pre_dial_seen: Vec<Value>,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Starts on a free port, failing each event's first `fail_first` attempts.
    pub async fn start(fail_first: u32) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            fail_first,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The secret the receiver checks with (the one the API showed, or a wrong one).
    pub fn set_secret(&self, secret: &str) {
        self.inner.lock().unwrap().secret = secret.to_string();
    }

    pub fn set_fail_first(&self, n: u32) {
        self.inner.lock().unwrap().fail_first = n;
    }

    pub fn answer_pre_dial(&self, phone: &str, answer: PreDial) {
        self.inner
            .lock()
            .unwrap()
            .pre_dial
            .insert(phone.to_string(), answer);
    }

    /// Events taken, each once, in the order first taken.
    pub fn accepted(&self) -> Vec<Value> {
        self.inner.lock().unwrap().accepted.clone()
    }

    pub fn rejected(&self) -> u32 {
        self.inner.lock().unwrap().rejected
    }

    pub fn duplicates(&self) -> u32 {
        self.inner.lock().unwrap().duplicates
    }

    /// Attempts seen per event id (failed ones included).
    pub fn attempts(&self, id: &str) -> u32 {
        self.inner
            .lock()
            .unwrap()
            .attempts
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_attempts(&self) -> u32 {
        self.inner.lock().unwrap().attempts.values().sum()
    }

    pub fn pre_dial_seen(&self) -> Vec<Value> {
        self.inner.lock().unwrap().pre_dial_seen.clone()
    }
}

/// The check from OUTBOUND_CALLS.md: `t` within five minutes of now, and one `v1` equal
/// to HMAC-SHA256(secret, "<t>.<body>") in hex.
pub fn signature_ok(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1.push(value.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - t).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    v1.contains(&expected)
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let header = headers
        .get("webhook-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let secret = inner.lock().unwrap().secret.clone();
    if !signature_ok(&secret, header, &body) {
        inner.lock().unwrap().rejected += 1;
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad signature"})),
        );
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({})));
    };
    let id = event["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        headers.get("webhook-id").and_then(|v| v.to_str().ok()),
        Some(id.as_str()),
        "the Webhook-Id header names the body's event"
    );
    if event["type"] == "contact.pre_dial" {
        let phone = event["data"]["phone"].as_str().unwrap_or_default();
        let answer = {
            let mut inner = inner.lock().unwrap();
            inner.pre_dial_seen.push(event.clone());
            inner
                .pre_dial
                .get(phone)
                .copied()
                .unwrap_or(PreDial::Eligible)
        };
        return match answer {
            PreDial::Eligible => (StatusCode::OK, Json(json!({"eligible": true}))),
            PreDial::Ineligible => (
                StatusCode::OK,
                Json(json!({"eligible": false, "reason": "already a customer"})),
            ),
            PreDial::Slow(wait) => {
                tokio::time::sleep(wait).await;
                (StatusCode::OK, Json(json!({"eligible": true})))
            }
        };
    }
    let mut inner = inner.lock().unwrap();
    let attempt = {
        let n = inner.attempts.entry(id.clone()).or_insert(0);
        *n += 1;
        *n
    };
    if attempt <= inner.fail_first {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({})));
    }
    if inner.accepted.iter().any(|e| e["id"] == id.as_str()) {
        inner.duplicates += 1;
    } else {
        inner.accepted.push(event);
    }
    (StatusCode::OK, Json(json!({})))
}
