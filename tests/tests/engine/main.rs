//! End-to-end tests of the campaign engine through the Twilio emulator: real HTTP, real
//! signed callbacks, a real PostgreSQL, the engine on a manual clock.

#![allow(unreachable_pub)]

mod campaign;
mod crash;
mod errors;
mod replicas;
mod rules;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use serde_json::{json, Value};

/// The year the scenarios run in: `ENGINE_TEST_YEAR`, else 2026. The engine must not care
/// what the real date is, so CI also runs the suite with years far before and after it.
pub fn test_year() -> i32 {
    std::env::var("ENGINE_TEST_YEAR")
        .ok()
        .and_then(|y| y.parse().ok())
        .unwrap_or(2026)
}

/// The first `weekday` on or after late November's `day` of the test year, at `hh:mm` UTC.
/// Late November keeps every US zone on standard time in any year (DST ends by Nov 7), so
/// a scenario's local times are the same whatever the year.
pub fn late_november(day: u32, weekday: Weekday, hh: u32, mm: u32) -> DateTime<Utc> {
    let mut at = Utc
        .with_ymd_and_hms(test_year(), 11, day, hh, mm, 0)
        .single()
        .expect("a valid late-November time");
    while at.weekday() != weekday {
        at += Duration::days(1);
    }
    at
}

/// A Tuesday at 15:00 UTC (2026-11-24 by default): 10:00 in New York, inside ordinary
/// calling hours.
pub fn tuesday_morning_new_york() -> DateTime<Utc> {
    late_november(22, Weekday::Tue, 15, 0)
}

/// A valid, distinct New York number for `i`.
pub fn number(i: u32) -> String {
    format!("+1212200{i:04}")
}

/// A contact in New York.
pub fn contact(i: u32) -> Value {
    json!({"phone": number(i), "name": format!("Contact {i}"), "timezone": "America/New_York"})
}
