//! A stand-in for the product in emulator tests: webhook endpoints that record (and check
//! the signatures of) what the emulator sends, a TwiML endpoint, and an agent WebSocket
//! that the test drives command by command.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{any, post};
use axum::Router;
use base64::Engine;
use outbound_tests::audio::mulaw;
use outbound_tests::speech_code::{self, DecodeEvent, Decoder};
use outbound_tests::twilio::signature;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::time::{sleep, Duration, Instant};

/// A webhook the product received.
#[derive(Debug, Clone)]
pub(crate) struct Hook {
    pub(crate) path: String,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) signature_ok: bool,
}

impl Hook {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the agent side saw on its WebSocket.
#[derive(Debug, Default)]
pub(crate) struct AgentLog {
    /// Every text message from the emulator, `media` included.
    pub(crate) messages: Vec<Value>,
    /// Whether the upgrade's X-Twilio-Signature checked out.
    pub(crate) signature_ok: Option<bool>,
    /// Callee speech decoded from inbound media.
    pub(crate) heard: Vec<String>,
    /// When the first audible inbound frame arrived.
    pub(crate) first_callee_audio: Option<Instant>,
    /// Mark echoes with their arrival times.
    pub(crate) mark_echoes: Vec<(String, Instant)>,
}

/// What the test tells the agent to do.
#[derive(Debug)]
pub(crate) enum Command {
    Speak(String),
    Mark(String),
    Clear,
    Close,
}

#[derive(Clone)]
struct AppState {
    addr: SocketAddr,
    token: String,
    hooks: Arc<Mutex<Vec<Hook>>>,
    log: Arc<Mutex<AgentLog>>,
    commands: Arc<Mutex<Option<mpsc::Receiver<Command>>>>,
    twiml: Arc<Mutex<String>>,
    /// Clear as soon as callee audio arrives (barge-in handling).
    clear_on_callee_audio: Arc<Mutex<bool>>,
}

pub(crate) struct Product {
    pub(crate) addr: SocketAddr,
    state: AppState,
    commands: mpsc::Sender<Command>,
}

impl Product {
    /// Starts the stand-in; `token` is the Twilio auth token it validates with.
    pub(crate) async fn start(token: &str) -> Product {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel(64);
        let state = AppState {
            addr,
            token: token.to_string(),
            hooks: Arc::default(),
            log: Arc::default(),
            commands: Arc::new(Mutex::new(Some(rx))),
            twiml: Arc::new(Mutex::new(String::new())),
            clear_on_callee_audio: Arc::default(),
        };
        *state.twiml.lock().unwrap() = Self::stream_twiml_for(addr);
        let app = Router::new()
            .route("/status", post(hook))
            .route("/amd", post(hook))
            .route("/twiml", post(twiml))
            .route("/media", any(media))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Product {
            addr,
            state,
            commands: tx,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn stream_twiml_for(addr: SocketAddr) -> String {
        format!(
            "<Response><Connect><Stream url=\"ws://{addr}/media\">\
             <Parameter name=\"callId\" value=\"call-7\"/>\
             <Parameter name=\"token\" value=\"tok-abc\"/></Stream></Connect></Response>"
        )
    }

    /// `<Connect><Stream>` to this stand-in's agent socket.
    pub(crate) fn stream_twiml(&self) -> String {
        Self::stream_twiml_for(self.addr)
    }

    pub(crate) fn clear_on_callee_audio(&self) {
        *self.state.clear_on_callee_audio.lock().unwrap() = true;
    }

    pub(crate) async fn send(&self, command: Command) {
        self.commands.send(command).await.expect("agent command");
    }

    pub(crate) fn hooks(&self, path: &str) -> Vec<Hook> {
        let hooks = self.state.hooks.lock().unwrap();
        hooks.iter().filter(|h| h.path == path).cloned().collect()
    }

    pub(crate) fn agent<R>(&self, f: impl FnOnce(&AgentLog) -> R) -> R {
        f(&self.state.log.lock().unwrap())
    }

    pub(crate) fn events(&self) -> Vec<String> {
        self.agent(|log| {
            log.messages
                .iter()
                .filter_map(|m| m["event"].as_str().map(str::to_string))
                .collect()
        })
    }

    /// Waits until `check` holds on the agent log.
    pub(crate) async fn wait_agent(&self, what: &str, check: impl Fn(&AgentLog) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.agent(&check) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn hook(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(&body).expect("form body");
    let url = format!("http://{}{}", state.addr, uri);
    let sig = headers
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let signature_ok = signature::validate(&state.token, &url, &params, sig);
    state.hooks.lock().unwrap().push(Hook {
        path: uri.path().to_string(),
        params,
        signature_ok,
    });
}

async fn twiml(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> String {
    hook(State(state.clone()), uri, headers, body).await;
    state.twiml.lock().unwrap().clone()
}

async fn media(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> impl IntoResponse {
    let url = format!("ws://{}/media", state.addr);
    let sig = headers
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    state.log.lock().unwrap().signature_ok =
        Some(signature::validate(&state.token, &url, &[], sig));
    ws.on_upgrade(move |socket| agent(state, socket))
}

/// The agent: records what arrives, obeys the test's commands.
async fn agent(state: AppState, mut socket: WebSocket) {
    let mut commands = state
        .commands
        .lock()
        .unwrap()
        .take()
        .expect("one stream at a time");
    let mut decoder = Decoder::new(8000);
    let mut stream_sid = String::new();
    let mut cleared_for_callee = false;
    loop {
        tokio::select! {
            message = socket.recv() => {
                let Some(Ok(Message::Text(text))) = message else { break };
                let value: Value = serde_json::from_str(text.as_str()).expect("JSON from emulator");
                if value["event"] == "start" {
                    stream_sid = value["streamSid"].as_str().unwrap_or_default().to_string();
                }
                if value["event"] == "media" {
                    let payload = value["media"]["payload"].as_str().unwrap_or_default();
                    let bytes = base64::engine::general_purpose::STANDARD.decode(payload).expect("b64");
                    let pcm = mulaw::decode(&bytes);
                    let audible = pcm.iter().any(|s| s.unsigned_abs() > 500);
                    {
                        let mut log = state.log.lock().unwrap();
                        if audible && log.first_callee_audio.is_none() {
                            log.first_callee_audio = Some(Instant::now());
                        }
                        for event in decoder.push(&pcm) {
                            if let DecodeEvent::Utterance(u) = event {
                                log.heard.push(u.text);
                            }
                        }
                    }
                    let clear_wanted = *state.clear_on_callee_audio.lock().unwrap();
                    let barge = audible && !cleared_for_callee && clear_wanted;
                    if barge {
                        cleared_for_callee = true;
                        let clear = json!({"event": "clear", "streamSid": stream_sid});
                        let _ = socket.send(Message::text(clear.to_string())).await;
                    }
                }
                if value["event"] == "mark" {
                    let name = value["mark"]["name"].as_str().unwrap_or_default().to_string();
                    state.log.lock().unwrap().mark_echoes.push((name, Instant::now()));
                }
                let stop = value["event"] == "stop";
                state.log.lock().unwrap().messages.push(value);
                if stop {
                    break;
                }
            }
            command = commands.recv() => {
                let outgoing = match command {
                    Some(Command::Speak(text)) => {
                        let pcm = speech_code::encode(&text, 8000).expect("ascii");
                        mulaw::encode(&pcm)
                            .chunks(160)
                            .map(|chunk| json!({
                                "event": "media",
                                "streamSid": stream_sid,
                                "media": {"payload": base64::engine::general_purpose::STANDARD.encode(chunk)},
                            }))
                            .collect()
                    }
                    Some(Command::Mark(name)) => {
                        vec![json!({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})]
                    }
                    Some(Command::Clear) => vec![json!({"event": "clear", "streamSid": stream_sid})],
                    Some(Command::Close) | None => {
                        let _ = socket.send(Message::Close(None)).await;
                        break;
                    }
                };
                for message in outgoing {
                    if socket.send(Message::text(message.to_string())).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    // Let a later stream on the same stand-in take the commands.
    *state.commands.lock().unwrap() = Some(commands);
}
