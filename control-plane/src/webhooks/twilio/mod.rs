//! Twilio webhooks, all signed: status, async AMD and recording callbacks, which carry our
//! call id in their URL (`?callId=`, set when the call was created); the voice and SMS
//! webhooks of our numbers (`?numberId=`); our messages' status callbacks (`?messageId=`).

mod amd;
mod inbound;
mod messages;
pub mod number_form;
mod recording;
pub mod signature;
mod status;
mod verify;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub use verify::{SignedForm, UnverifiedForm};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status::status_callback))
        .routes(routes!(amd::amd_callback))
        .routes(routes!(recording::recording_callback))
        .routes(routes!(inbound::voice_webhook))
        .routes(routes!(inbound::inbound_status))
        .routes(routes!(inbound::voicemail_recorded))
        .routes(routes!(inbound::voicemail_transcribed))
        .routes(routes!(messages::sms_webhook))
        .routes(routes!(messages::message_status))
}
