//! A minimal stand-in for an agent worker, so the control plane's side of a Media Streams
//! call can be tested before the real worker exists: it accepts Twilio's WebSocket, reads
//! the `start` message's parameters, fetches the job with the call token, reports the call
//! as connected and ended, and closes the stream. It heartbeats its capacity meanwhile.
//! A test may give it a script: events (transcript lines, an outcome...) every call then
//! reports between `connected` and `ended`, as a real worker would.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

/// What the stand-in saw of one call.
#[derive(Debug, Clone)]
pub struct StandInCall {
    pub call_id: String,
    /// The parameters of Twilio's `start` message.
    pub parameters: Value,
    /// The status of `GET /internal/v1/calls/{id}/job`.
    pub job_status: u16,
    pub job: Value,
    /// The status of the events post.
    pub events_status: u16,
}

#[derive(Clone)]
struct Shared {
    control_plane: String,
    hold: Duration,
    /// When set, each call reports this answer-to-first-audio delay in its latency, as
    /// the real worker does (abandonment tests); unset, no latency report is sent.
    first_audio_ms: Arc<Mutex<Option<i64>>>,
    /// When set, each call reports this cost in a usage event (budget tests).
    cost_cents: Arc<Mutex<Option<f64>>>,
    http: reqwest::Client,
    calls: Arc<Mutex<Vec<StandInCall>>>,
    script: Arc<Mutex<Vec<Value>>>,
}

/// A running stand-in worker.
pub struct StandInWorker {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<StandInCall>>>,
    script: Arc<Mutex<Vec<Value>>>,
    first_audio_ms: Arc<Mutex<Option<i64>>>,
    cost_cents: Arc<Mutex<Option<f64>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl StandInWorker {
    /// Starts on a free port; `hold` is how long each call stays connected.
    pub async fn start(
        control_plane: &str,
        worker_key: &str,
        capacity: i32,
        hold: Duration,
    ) -> std::io::Result<Self> {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(Vec::new()));
        let first_audio_ms = Arc::new(Mutex::new(None));
        let cost_cents = Arc::new(Mutex::new(None));
        let shared = Shared {
            control_plane: control_plane.trim_end_matches('/').to_string(),
            hold,
            first_audio_ms: first_audio_ms.clone(),
            cost_cents: cost_cents.clone(),
            http: reqwest::Client::new(),
            calls: calls.clone(),
            script: script.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/twilio/media", get(upgrade))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let heartbeat = tokio::spawn(heartbeat_loop(
            shared,
            worker_key.to_string(),
            capacity,
            addr,
        ));
        Ok(Self {
            addr,
            calls,
            script,
            first_audio_ms,
            cost_cents,
            tasks: vec![server, heartbeat],
        })
    }

    /// Events (without `seq`) every call from now on reports after `connected`, in
    /// order, before `ended`: `{"type": "transcript", ...}` and the like.
    pub fn set_script(&self, events: Vec<Value>) {
        if let Ok(mut script) = self.script.lock() {
            *script = events;
        }
    }

    /// The URL to give the control plane as its Media Streams URL.
    pub fn media_url(&self) -> String {
        format!("ws://{}/twilio/media", self.addr)
    }

    /// From now on, calls report that the agent was first heard `ms` after the answer
    /// (`None`: no latency report, as before).
    pub fn report_first_audio_ms(&self, ms: Option<i64>) {
        if let Ok(mut slot) = self.first_audio_ms.lock() {
            *slot = ms;
        }
    }

    /// From now on, each call reports that it cost `cents` (`None`: no usage report).
    pub fn report_cost_cents(&self, cents: Option<f64>) {
        if let Ok(mut slot) = self.cost_cents.lock() {
            *slot = cents;
        }
    }

    /// Every call seen so far.
    pub fn calls(&self) -> Vec<StandInCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Drop for StandInWorker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn heartbeat_loop(shared: Shared, key: String, capacity: i32, addr: SocketAddr) {
    let id = format!("stand-in-{}", addr.port());
    loop {
        let active = shared.calls.lock().map(|c| c.len()).unwrap_or(0) as i32;
        let _ = shared
            .http
            .post(format!(
                "{}/internal/v1/workers/heartbeat",
                shared.control_plane
            ))
            .bearer_auth(&key)
            .json(
                &json!({"workerId": id, "mode": "twilio_stream", "capacity": capacity,
                          "activeCalls": active.min(capacity)}),
            )
            .send()
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn upgrade(ws: WebSocketUpgrade, State(shared): State<Shared>) -> Response {
    ws.on_upgrade(move |socket| handle(socket, shared))
}

async fn handle(mut socket: WebSocket, shared: Shared) {
    let mut started: Option<Value> = None;
    while let Some(Ok(message)) = socket.recv().await {
        if let Message::Text(text) = message {
            let Ok(value) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if value["event"] == "start" {
                started = Some(value["start"]["customParameters"].clone());
                break;
            }
        }
    }
    let Some(parameters) = started else {
        return;
    };
    let call_id = parameters["callId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let token = parameters["token"].as_str().unwrap_or_default().to_string();
    let job = shared
        .http
        .get(format!(
            "{}/internal/v1/calls/{call_id}/job",
            shared.control_plane
        ))
        .bearer_auth(&token)
        .send()
        .await;
    let (job_status, job) = match job {
        Ok(response) => {
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
        Err(_) => (0, Value::Null),
    };
    let connected =
        json!({"events": [{"seq": 1, "atMs": 0, "type": "connected", "workerId": "stand-in"}]});
    let _ = post_events(&shared, &call_id, &token, &connected).await;
    let script = shared.script.lock().map(|s| s.clone()).unwrap_or_default();
    let mut seq = 1;
    if !script.is_empty() {
        let events: Vec<Value> = script
            .into_iter()
            .map(|mut event| {
                seq += 1;
                event["seq"] = json!(seq);
                event["atMs"] = json!(seq * 10);
                event
            })
            .collect();
        let _ = post_events(&shared, &call_id, &token, &json!({ "events": events })).await;
    }
    // Keep reading (and ignoring) media until it is time to end.
    let _ = tokio::time::timeout(shared.hold, async {
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
    let first_audio = shared.first_audio_ms.lock().ok().and_then(|slot| *slot);
    let mut last = vec![json!({"seq": 2, "atMs": shared.hold.as_millis() as i64,
                               "type": "ended", "reason": "stand_in_done"})];
    if let Some(ms) = first_audio {
        last.insert(
            0,
            json!({"seq": 2, "atMs": shared.hold.as_millis() as i64,
                              "type": "metrics", "latency": {"firstAudioMs": ms}}),
        );
    }
    if let Some(cents) = shared.cost_cents.lock().ok().and_then(|slot| *slot) {
        last.insert(
            0,
            json!({"seq": 2, "atMs": shared.hold.as_millis() as i64, "type": "usage",
            "sttRequests": 1, "sttErrors": 0, "llmRequests": 1, "llmErrors": 0,
            "ttsRequests": 1, "ttsErrors": 0, "costCents": cents, "costBreakdown": {}}),
        );
    }
    // Sequence numbers in order after the script's, whatever was reported.
    for (i, event) in last.iter_mut().enumerate() {
        event["seq"] = json!(seq + 1 + i as i64);
    }
    let ended = json!({"events": last});
    let events_status = post_events(&shared, &call_id, &token, &ended).await;
    let _ = socket.send(Message::Close(None)).await;
    if let Ok(mut calls) = shared.calls.lock() {
        calls.push(StandInCall {
            call_id,
            parameters,
            job_status,
            job,
            events_status,
        });
    }
}

async fn post_events(shared: &Shared, call_id: &str, token: &str, body: &Value) -> u16 {
    match shared
        .http
        .post(format!(
            "{}/internal/v1/calls/{call_id}/events",
            shared.control_plane
        ))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}
