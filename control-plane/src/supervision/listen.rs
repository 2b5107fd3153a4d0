//! `GET /api/v1/calls/{id}/listen`: the supervisor's WebSocket, proxied to the worker's
//! `/internal/calls/{id}/supervise`.
//!
//! Out (to the supervisor): binary listen frames, 20 ms of 16 kHz s16le stereo (1,280
//! bytes; left = callee, right = what the callee hears from our side), and text
//! `{"type":"state","takenOver":...}` / `{"type":"result","action":...,"ok":...}`.
//! In: text controls (the body of `POST .../control`; `takeOver` and `handBack` only make
//! sense here) and, during this connection's take-over, binary 16 kHz s16le mono audio
//! for the callee. A slow supervisor is never waited for by the call: frames back up into
//! the worker's bounded per-listener buffer, which drops the oldest. Nor is the relay held
//! up by a control: say, whisper, end and transfer sent here are carried out one after the
//! other by a task of their own (a request to the worker and an audit row each), while the
//! frames keep flowing. Closing the stream during a take-over hands the call back to the
//! agent (audited as such).

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use shared::supervision::{Control, WorkerMessage};
use std::collections::VecDeque;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WorkerFrame;
use uuid::Uuid;

use super::audit;
use super::control::{self, ControlRequest};
use super::worker::{self, CallWorker, WORKER_TIMEOUT};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiPath;
use crate::state::AppState;

type WorkerSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Controls sent on one listen stream and not yet carried out; more are refused at once.
const CONTROL_QUEUE: usize = 16;

/// Listens to a live call (WebSocket) and steps in from the same connection.
#[utoipa::path(get, path = "/api/v1/calls/{id}/listen", tag = "supervision",
    params(("id" = Uuid, Path)),
    responses((status = 101, description = "WebSocket: binary 20 ms frames of 16 kHz s16le \
            stereo (left = callee, right = agent or supervisor); text controls in, results \
            and take-over state out"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
pub(super) async fn listen(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let worker = worker::locate(&state, &caller, id).await?;
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let socket = match connect(&worker).await {
        Ok(socket) => socket,
        Err(error) => {
            let result = Err(error.clone());
            audit::record(&state, &caller, id, "listen_started", json!({}), &result).await?;
            return Err(ApiError::BadGateway(error));
        }
    };
    audit::record(&state, &caller, id, "listen_started", json!({}), &Ok(())).await?;
    Ok(upgrade.on_upgrade(move |client| async move {
        Proxy {
            state,
            caller,
            call: id,
            pending: VecDeque::new(),
            holds_take_over: false,
        }
        .run(client, socket)
        .await
    }))
}

async fn connect(worker: &CallWorker) -> Result<WorkerSocket, String> {
    let mut request = worker
        .ws_url("supervise")
        .into_client_request()
        .map_err(|e| format!("the worker's supervision URL is not valid: {e}"))?;
    let bearer = format!("Bearer {}", worker.token)
        .parse()
        .map_err(|_| "the call token is not a header value".to_string())?;
    request
        .headers_mut()
        .insert(axum::http::header::AUTHORIZATION, bearer);
    match tokio::time::timeout(WORKER_TIMEOUT, tokio_tungstenite::connect_async(request)).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(error)) => Err(format!(
            "the call's worker refused the listen stream: {error}"
        )),
        Err(_) => Err("the call's worker did not answer in time".into()),
    }
}

/// One supervisor's connection, relayed to and from the worker.
struct Proxy {
    state: AppState,
    caller: Caller,
    call: Uuid,
    /// Take-over and hand-back sent to the worker, awaiting its results (in order).
    pending: VecDeque<Control>,
    /// This connection took the call over and has not handed it back.
    holds_take_over: bool,
}

impl Proxy {
    async fn run(mut self, client: WebSocket, worker: WorkerSocket) {
        let (mut to_client, mut from_client) = client.split();
        let (mut to_worker, mut from_worker) = worker.split();
        let (controls, mut results) = self.spawn_controls();
        loop {
            tokio::select! {
                Some(result) = results.recv() => {
                    if to_client.send(Message::Text(result.into())).await.is_err() {
                        break;
                    }
                }
                message = from_client.next() => match message {
                    Some(Ok(Message::Binary(audio))) => {
                        if to_worker.send(WorkerFrame::Binary(audio)).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(Message::Text(text))) => {
                        let sent = match self.on_client_text(text.as_str(), &controls) {
                            Forward::ToWorker(text) => to_worker.send(WorkerFrame::Text(text.into())).await.is_ok(),
                            Forward::ToClient(text) => to_client.send(Message::Text(text.into())).await.is_ok(),
                            Forward::Queued => true,
                        };
                        if !sent {
                            break;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
                message = from_worker.next() => match message {
                    Some(Ok(WorkerFrame::Binary(frame))) => {
                        if to_client.send(Message::Binary(frame)).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(WorkerFrame::Text(text))) => {
                        self.on_worker_text(text.as_str()).await;
                        if to_client.send(Message::Text(text.as_str().into())).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(WorkerFrame::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        let _ = to_worker.close().await;
        let _ = to_client.close().await;
        if self.holds_take_over {
            // The worker hands a take-over back when its holder's connection goes.
            let detail = json!({ "reason": "listen stream closed" });
            self.audit("hand_back", detail, &Ok(())).await;
        }
        self.audit("listen_ended", json!({}), &Ok(())).await;
    }

    async fn audit(&self, action: &str, detail: serde_json::Value, result: &Result<(), String>) {
        let recorded =
            audit::record(&self.state, &self.caller, self.call, action, detail, result).await;
        if let Err(error) = recorded {
            tracing::error!(%error, call_id = %self.call, action, "a supervision action was not audited");
        }
    }

    /// Carries out the controls of this stream that go through the POST route's path, in
    /// the order sent, off the relay's loop; their results come back as text for the
    /// supervisor. The task ends once the stream has closed and its last control is done.
    fn spawn_controls(&self) -> (mpsc::Sender<Control>, mpsc::Receiver<String>) {
        let (controls, mut queue) = mpsc::channel::<Control>(CONTROL_QUEUE);
        let (done, results) = mpsc::channel(CONTROL_QUEUE);
        let (state, caller, call) = (self.state.clone(), self.caller, self.call);
        tokio::spawn(async move {
            while let Some(control) = queue.recv().await {
                let result = control::act(&state, &caller, call, &control)
                    .await
                    .map_err(|e| e.to_string());
                // The supervisor may have gone meanwhile: the action was still audited.
                let _ = done.send(result_text(control.name(), result)).await;
            }
        });
        (controls, results)
    }

    /// A control from the supervisor: take-over and hand-back go down this socket (so the
    /// take-over belongs to it), the rest to the controls task (the POST route's path).
    fn on_client_text(&mut self, text: &str, controls: &mpsc::Sender<Control>) -> Forward {
        let request: Result<ControlRequest, _> = serde_json::from_str(text);
        let control = match request
            .map_err(|e| ApiError::BadRequest(format!("not a control: {e}")))
            .and_then(|r| control::parse(&r))
        {
            Ok(control) => control,
            Err(error) => return Forward::ToClient(result_text("unknown", Err(error.to_string()))),
        };
        match control {
            Control::TakeOver | Control::HandBack => {
                let text = serde_json::to_string(&control).unwrap_or_default();
                self.pending.push_back(control);
                Forward::ToWorker(text)
            }
            _ => match controls.try_send(control) {
                Ok(()) => Forward::Queued,
                Err(refused) => {
                    let control = refused.into_inner();
                    let error = "too many controls in flight; try again".to_string();
                    Forward::ToClient(result_text(control.name(), Err(error)))
                }
            },
        }
    }

    /// A message from the worker: results of take-over and hand-back are audited here.
    async fn on_worker_text(&mut self, text: &str) {
        match serde_json::from_str::<WorkerMessage>(text) {
            Ok(WorkerMessage::Result { ok, error, .. }) => {
                let Some(control) = self.pending.pop_front() else {
                    return;
                };
                if ok {
                    self.holds_take_over = control == Control::TakeOver;
                }
                let result = if ok {
                    Ok(())
                } else {
                    Err(error.unwrap_or_default())
                };
                self.audit(control.name(), json!({}), &result).await;
            }
            Ok(WorkerMessage::State { taken_over: false }) => self.holds_take_over = false,
            Ok(WorkerMessage::State { .. }) => {}
            Err(error) => tracing::warn!(%error, "an unreadable message from the worker"),
        }
    }
}

/// Where a client's text goes next.
enum Forward {
    ToWorker(String),
    ToClient(String),
    /// To the controls task, whose result comes later.
    Queued,
}

fn result_text(action: &str, result: Result<(), String>) -> String {
    let message = WorkerMessage::Result {
        action: action.into(),
        ok: result.is_ok(),
        error: result.err(),
    };
    serde_json::to_string(&message).unwrap_or_default()
}
