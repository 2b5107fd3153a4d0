//! `/_emulator/...`: the inspection and set-up API, for tests that run the emulator as a
//! separate process (the product's crash tests). Not part of Twilio's API.
//!
//! - `GET /_emulator/calls`: every call's [`CallReport`], in creation order
//! - `GET /_emulator/calls/{sid}`: one call
//! - `GET /_emulator/calls/{sid}/wait?timeout_ms=N`: the call once it has ended (408 if not)
//! - `GET /_emulator/dials`: create requests per `To` number
//! - `PUT /_emulator/callees/{to}`: register a [`CalleeScript`] (JSON)
//! - `POST /_emulator/settings`: [`Settings`] (faults, CPS)

use super::report::CallReport;
use super::script::CalleeScript;
use super::store::Shared;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::time::{timeout, Duration};

/// Changes to the emulator's behaviour; absent fields are left as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    /// Refuse this many of the next creates with `fail_code`.
    pub fail_next_creates: Option<u32>,
    /// The Twilio code for those refusals (20429 by default).
    pub fail_code: Option<u32>,
    /// Refuse every request with 401 / 20003.
    pub reject_credentials: Option<bool>,
    /// Calls leaving the queue per second; 0 is unlimited.
    pub calls_per_second: Option<f64>,
}

impl Settings {
    pub(crate) fn apply(&self, shared: &Shared) {
        let mut state = shared.lock();
        if let Some(n) = self.fail_next_creates {
            state.faults.fail_next_creates = n;
            state.faults.fail_code = self.fail_code.unwrap_or(20429);
        }
        if let Some(on) = self.reject_credentials {
            state.faults.reject_credentials = on;
        }
        if let Some(cps) = self.calls_per_second {
            state.calls_per_second = cps.max(0.0);
            state.next_slot = None;
        }
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/calls", get(calls))
        .route("/_emulator/calls/{sid}", get(call))
        .route("/_emulator/calls/{sid}/wait", get(wait))
        .route("/_emulator/dials", get(dials))
        .route("/_emulator/callees/{to}", put(register))
        .route("/_emulator/settings", post(settings))
}

pub(crate) fn all_calls(shared: &Shared) -> Vec<CallReport> {
    let state = shared.lock();
    state
        .order
        .iter()
        .filter_map(|sid| state.calls.get(sid).map(|e| e.report.clone()))
        .collect()
}

async fn calls(State(shared): State<Arc<Shared>>) -> Json<Vec<CallReport>> {
    Json(all_calls(&shared))
}

async fn call(State(shared): State<Arc<Shared>>, Path(sid): Path<String>) -> Response {
    match shared.with_call(&sid, |e| e.report.clone()) {
        Some(report) => Json(report).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize)]
struct WaitQuery {
    timeout_ms: Option<u64>,
}

async fn wait(
    State(shared): State<Arc<Shared>>,
    Path(sid): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Response {
    let Some(mut ended) = shared.with_call(&sid, |e| e.ended.subscribe()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let limit = Duration::from_millis(query.timeout_ms.unwrap_or(30_000));
    if !matches!(timeout(limit, ended.wait_for(|e| *e)).await, Ok(Ok(_))) {
        return StatusCode::REQUEST_TIMEOUT.into_response();
    }
    match shared.with_call(&sid, |e| e.report.clone()) {
        Some(report) => Json(report).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn dials(State(shared): State<Arc<Shared>>) -> Json<BTreeMap<String, u32>> {
    Json(shared.lock().dials.clone())
}

async fn register(
    State(shared): State<Arc<Shared>>,
    Path(to): Path<String>,
    Json(script): Json<CalleeScript>,
) -> StatusCode {
    shared.lock().scripts.insert(to, script);
    StatusCode::NO_CONTENT
}

async fn settings(State(shared): State<Arc<Shared>>, Json(settings): Json<Settings>) -> StatusCode {
    settings.apply(&shared);
    StatusCode::NO_CONTENT
}
