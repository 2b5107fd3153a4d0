//! `/_emulator/...`: inspection and fault control for tests that run the emulator as a
//! separate process. Not part of any provider's API.
//!
//! - `GET /_emulator/report`: the [`Report`]
//! - `DELETE /_emulator/report`: forget everything recorded
//! - `GET /_emulator/faults`: the active faults, with requests left
//! - `POST /_emulator/faults`: one [`Fault`] or a list; each replaces its service's fault
//!   (`"times": 0` clears it)
//! - `DELETE /_emulator/faults`: clear all faults

use super::faults::Fault;
use super::report::Report;
use super::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/report", get(report).delete(reset))
        .route(
            "/_emulator/faults",
            get(faults).post(set_faults).delete(clear_faults),
        )
}

async fn report(State(shared): State<Arc<Shared>>) -> Json<Report> {
    Json(shared.report().clone())
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    *shared.report() = Report::default();
    StatusCode::NO_CONTENT
}

async fn faults(State(shared): State<Arc<Shared>>) -> Json<Vec<Fault>> {
    Json(shared.faults().list())
}

/// One fault or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum FaultsBody {
    One(Fault),
    Many(Vec<Fault>),
}

async fn set_faults(State(shared): State<Arc<Shared>>, Json(body): Json<FaultsBody>) -> StatusCode {
    let faults = match body {
        FaultsBody::One(fault) => vec![fault],
        FaultsBody::Many(faults) => faults,
    };
    let mut table = shared.faults();
    for fault in faults {
        table.set(fault);
    }
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.faults().clear();
    StatusCode::NO_CONTENT
}
