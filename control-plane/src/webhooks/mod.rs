//! Inbound webhooks from the telephony providers, each validated before it is believed.

pub mod twilio;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every webhook route (documented; authenticated by the provider's signature).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(twilio::router())
}
