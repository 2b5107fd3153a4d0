//! Inbound webhooks from the telephony providers (Twilio's callbacks, LiveKit's room
//! events), each validated before it is believed.

mod livekit;
pub mod twilio;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every webhook route (documented; authenticated by the provider's signature).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(twilio::router())
        .routes(utoipa_axum::routes!(livekit::livekit_webhook))
}
