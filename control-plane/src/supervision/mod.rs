//! Live supervision of a call by a user of its organization: a listen stream (the
//! callee and the agent as two channels), controls (say, whisper, end, transfer, take
//! over, hand back) and the audit of every action.
//!
//! The control plane holds no audio: it finds the worker holding the call (the call's
//! `worker_id`, the worker's `supervise_url` from its heartbeats), authenticates to it
//! with a token minted for that call, and proxies (`listen.rs` the WebSocket,
//! `control.rs` the other controls). `audit.rs` records who did what and when, and
//! serves it on the call. Every route looks the call up in the caller's organization
//! first, so another organization's call is a 404 for everything.

mod audit;
mod control;
mod listen;
mod worker;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub use audit::SupervisionActionView;

/// Controls and the audit: ordinary requests (the caller adds the timeout).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(control::control))
        .routes(routes!(audit::list))
}

/// The listen stream: a WebSocket that lasts as long as the supervisor listens, so no
/// request timeout.
pub fn stream_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(listen::listen))
}
