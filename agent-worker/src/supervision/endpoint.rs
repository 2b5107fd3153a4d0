//! The worker's internal supervision API, used by the control plane only and
//! authenticated with the call's own token (`Authorization: Bearer`), which the control
//! plane mints with the secret both share:
//!
//! - `GET /internal/calls/{id}/supervise` (WebSocket): binary listen frames out
//!   (`listen.rs`), the supervisor's voice in (binary, 16 kHz s16le mono, used only while
//!   this connection holds a take-over), take-over and hand-back in as text
//!   ([`Control`]), results and state changes out as text ([`WorkerMessage`]). The
//!   connection going away hands a take-over it holds back to the agent.
//! - `POST /internal/calls/{id}/control`: say, whisper, end, transfer, hand back.

use super::{CallLine, Command, Refusal};
use crate::app::Worker;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use shared::supervision::{Control, WorkerMessage};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

/// The routes, merged into the worker's router.
pub fn routes() -> Router<Arc<Worker>> {
    Router::new()
        .route("/internal/calls/{id}/supervise", get(supervise))
        .route("/internal/calls/{id}/control", post(control))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The call's line, if the request carries the call's token and the call is here.
fn line_for(
    worker: &Worker,
    headers: &HeaderMap,
    call: Uuid,
) -> Result<Arc<CallLine>, (StatusCode, &'static str)> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or((StatusCode::UNAUTHORIZED, "missing bearer token"))?;
    worker
        .tokens
        .verify_for(token, call, chrono::Utc::now().timestamp())
        .map_err(|_| (StatusCode::FORBIDDEN, "invalid token for this call"))?;
    worker
        .supervision
        .get(call)
        .ok_or((StatusCode::NOT_FOUND, "this worker holds no such call"))
}

fn status_of(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::Ended => StatusCode::GONE,
        _ => StatusCode::CONFLICT,
    }
}

async fn control(
    State(worker): State<Arc<Worker>>,
    Path(call): Path<Uuid>,
    headers: HeaderMap,
    Json(control): Json<Control>,
) -> Response {
    let line = match line_for(&worker, &headers, call) {
        Ok(line) => line,
        Err((status, message)) => return refuse(status, message),
    };
    let result = match control {
        Control::Say { text } => line.command(Command::Say(text)),
        Control::Whisper { text } => line.command(Command::Whisper(text)),
        Control::End => line.command(Command::End),
        Control::Transfer { to } => line.command(Command::Transfer(to)),
        Control::HandBack => line.hand_back(),
        Control::TakeOver => {
            return refuse(
                StatusCode::CONFLICT,
                "take over on the listen stream: the supervisor's audio comes from it",
            )
        }
    };
    match result {
        Ok(()) => Json(serde_json::json!({ "ok": true })).into_response(),
        Err(refusal) => refuse(status_of(&refusal), &refusal.to_string()),
    }
}

async fn supervise(
    State(worker): State<Arc<Worker>>,
    Path(call): Path<Uuid>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let line = match line_for(&worker, &headers, call) {
        Ok(line) => line,
        Err((status, message)) => return refuse(status, message),
    };
    upgrade.on_upgrade(move |socket| serve(line, socket))
}

/// One supervisor connection, until either side goes or the call ends.
async fn serve(line: Arc<CallLine>, mut socket: WebSocket) {
    let connection = line.connect();
    let mut frames = line.subscribe();
    let mut state = line.state();
    let mut shown = None;
    loop {
        let now = *state.borrow_and_update();
        if now.ended {
            // The call's last frames are still the listener's.
            while let Ok(frame) = frames.try_recv() {
                if socket.send(Message::Binary(frame)).await.is_err() {
                    break;
                }
            }
            break;
        }
        if shown != Some(now.taken_over) {
            shown = Some(now.taken_over);
            let message = WorkerMessage::State {
                taken_over: now.taken_over,
            };
            if send_text(&mut socket, &message).await.is_err() {
                break;
            }
        }
        tokio::select! {
            frame = frames.recv() => match frame {
                Ok(frame) => {
                    if socket.send(Message::Binary(frame)).await.is_err() {
                        break;
                    }
                }
                // A slow listener lost frames; it carries on with the newest.
                Err(RecvError::Lagged(lost)) => {
                    tracing::warn!(lost, "a supervisor's listen stream fell behind and lost frames");
                }
                Err(RecvError::Closed) => break,
            },
            changed = state.changed() => if changed.is_err() { break },
            message = socket.recv() => match message {
                Some(Ok(Message::Binary(pcm))) => line.supervisor_audio(connection, pcm),
                Some(Ok(Message::Text(text))) => {
                    let reply = on_text(&line, connection, &text);
                    if send_text(&mut socket, &reply).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    line.release(connection);
}

/// A control sent as text on the socket: take-over and hand-back.
fn on_text(line: &CallLine, connection: u64, text: &str) -> WorkerMessage {
    let control: Control = match serde_json::from_str(text) {
        Ok(control) => control,
        Err(error) => {
            return WorkerMessage::Result {
                action: "unknown".into(),
                ok: false,
                error: Some(format!("not a control: {error}")),
            }
        }
    };
    let result = match &control {
        Control::TakeOver => line.take_over(connection),
        Control::HandBack => line.hand_back(),
        _ => {
            return WorkerMessage::Result {
                action: control.name().into(),
                ok: false,
                error: Some("only takeOver and handBack are sent on the socket".into()),
            }
        }
    };
    WorkerMessage::Result {
        action: control.name().into(),
        ok: result.is_ok(),
        error: result.err().map(|r| r.to_string()),
    }
}

async fn send_text(socket: &mut WebSocket, message: &WorkerMessage) -> Result<(), axum::Error> {
    let text = serde_json::to_string(message).unwrap_or_default();
    socket.send(Message::Text(text.into())).await
}
