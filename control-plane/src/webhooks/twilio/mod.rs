//! Twilio webhooks: status, async AMD and recording callbacks, all signed. Each carries
//! our call id in its URL (`?callId=`), set when the call was created.

mod amd;
mod recording;
pub mod signature;
mod status;
mod verify;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub use verify::SignedForm;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status::status_callback))
        .routes(routes!(amd::amd_callback))
        .routes(routes!(recording::recording_callback))
}
