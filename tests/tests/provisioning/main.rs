//! Trunk provisioning end to end: the control plane's API against the Twilio emulator's
//! Elastic SIP Trunking API, and against a real livekit-server for the outbound trunk
//! registration.

#![allow(unreachable_pub)]

mod livekit;
mod twilio;

use chrono::{TimeZone, Utc};
use control_plane::crypto::SecretBox;
use outbound_tests::rig::Rig;
use secrecy::ExposeSecret;
use serde_json::Value;
use uuid::Uuid;

/// Any moment: provisioning does not look at the clock.
pub fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

/// `POST /api/v1/trunks/twilio`: the status and the body.
pub async fn provision(rig: &Rig, body: Value) -> (u16, Value) {
    rig.request(reqwest::Method::POST, "/api/v1/trunks/twilio", Some(body))
        .await
        .unwrap()
}

/// The trunk's stored SIP password, unsealed with the control plane's key: what LiveKit
/// will present to Twilio.
pub async fn stored_password(rig: &Rig, trunk_id: &str) -> String {
    let id: Uuid = trunk_id.parse().unwrap();
    let sealed: Vec<u8> = sqlx::query_scalar("select auth_password_enc from trunks where id = $1")
        .bind(id)
        .fetch_one(&rig.db)
        .await
        .unwrap();
    SecretBox::new(&rig.settings.auth.encryption_key)
        .open(&sealed)
        .unwrap()
        .expose_secret()
        .to_string()
}
