//! Twilio webhooks: status, async AMD and recording callbacks, all signed.

pub mod signature;
