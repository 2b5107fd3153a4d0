//! `/_emulator/...` set-up for calls and texts *to* the account's numbers, for an emulator
//! run as its own process (the demo, manual tours). Not part of Twilio's API.
//!
//! - `PUT /_emulator/numbers/{number}`: `{"voiceUrl", "statusCallback", "smsUrl"}`, as
//!   configuring the number in Twilio's console does
//! - `POST /_emulator/inbound-calls`: `{"from", "to", "script"?}` places a call to the
//!   number (the caller follows the [`CalleeScript`]); answers `{"sid"}`
//! - `POST /_emulator/inbound-sms`: `{"from", "to", "body"}` texts the number; answers
//!   `{"sid", "webhookStatus"}`
//! - `GET /_emulator/messages`: every text, as [`super::MessageReport`]s

use super::call::inbound::{place, NumberHooks};
use super::script::CalleeScript;
use super::store::Shared;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/numbers/{number}", put(configure))
        .route("/_emulator/inbound-calls", post(call))
        .route("/_emulator/inbound-sms", post(text))
        .route("/_emulator/messages", get(messages))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Hooks {
    voice_url: Option<String>,
    /// Also read as `statusCallbackUrl`, the control plane's name for it.
    #[serde(alias = "statusCallbackUrl")]
    status_callback: Option<String>,
    sms_url: Option<String>,
}

async fn configure(
    State(shared): State<Arc<Shared>>,
    Path(number): Path<String>,
    Json(hooks): Json<Hooks>,
) -> StatusCode {
    shared.trunking().own_number(&number);
    shared.messaging().numbers.insert(
        number,
        NumberHooks {
            voice_url: hooks.voice_url,
            status_callback: hooks.status_callback,
            sms_url: hooks.sms_url,
        },
    );
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct Call {
    from: String,
    to: String,
    #[serde(default)]
    script: Option<CalleeScript>,
}

async fn call(
    State(shared): State<Arc<Shared>>,
    Json(call): Json<Call>,
) -> (StatusCode, Json<Value>) {
    let hooks = shared
        .messaging()
        .numbers
        .get(&call.to)
        .cloned()
        .unwrap_or_default();
    let script = call.script.unwrap_or_default();
    match place(shared.clone(), &call.from, &call.to, &hooks, script) {
        Ok(sid) => (StatusCode::CREATED, Json(json!({"sid": sid}))),
        Err(why) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": why})),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct Text {
    from: String,
    to: String,
    body: String,
}

async fn text(
    State(shared): State<Arc<Shared>>,
    Json(text): Json<Text>,
) -> (StatusCode, Json<Value>) {
    match super::messaging::receive(&shared, &text.from, &text.to, &text.body).await {
        Ok((sid, status)) => (
            StatusCode::CREATED,
            Json(json!({"sid": sid, "webhookStatus": status})),
        ),
        Err(why) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": why})),
        ),
    }
}

async fn messages(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(shared.messaging().messages.clone()))
}
