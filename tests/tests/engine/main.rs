//! End-to-end tests of the campaign engine through the Twilio emulator: real HTTP, real
//! signed callbacks, a real PostgreSQL, the engine on a manual clock.

#![allow(unreachable_pub)]

mod campaign;
mod crash;
mod errors;
mod replicas;
mod rules;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

/// Tuesday 2026-11-24 15:00 UTC: 10:00 in New York, inside ordinary calling hours.
pub fn tuesday_morning_new_york() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

/// A valid, distinct New York number for `i`.
pub fn number(i: u32) -> String {
    format!("+1212200{i:04}")
}

/// A contact in New York.
pub fn contact(i: u32) -> Value {
    json!({"phone": number(i), "name": format!("Contact {i}"), "timezone": "America/New_York"})
}
