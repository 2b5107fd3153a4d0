//! The internal API agent workers use: fetch a call's job, post its events, heartbeat
//! free capacity. Call routes take the per-call token the control plane minted; the
//! heartbeat takes the workers' API key.

mod auth;
pub mod events;
mod job;
pub mod workers;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub use job::build_job;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(job::get_job))
        .routes(routes!(events::post_events))
        .routes(routes!(workers::heartbeat))
}
