//! End-to-end tests of calling compliance (OUTBOUND_CALLS.md, "Compliance"): consent for
//! telemarketing, state rules over simulated days, the callee's opt-out and a contact's
//! history, through the real control plane, the Twilio emulator and (for the opt-out) the
//! real agent worker.

#![allow(unreachable_pub)]

mod abandonment;
mod consent;
mod logs;
mod opt_out;
mod safety;
mod state_rules;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use outbound_tests::rig::Api;
use serde_json::Value;

/// The first `weekday` on or after late November's `day`, at `hh:mm` UTC: US zones are on
/// standard time then (New York is UTC-5) in any year.
pub fn late_november(day: u32, weekday: Weekday, hh: u32, mm: u32) -> DateTime<Utc> {
    let mut at = Utc
        .with_ymd_and_hms(2026, 11, day, hh, mm, 0)
        .single()
        .expect("a valid late-November time");
    while at.weekday() != weekday {
        at += Duration::days(1);
    }
    at
}

/// The decisions recorded for the campaign's attempt to `phone`.
pub async fn decisions_for(api: &Api, campaign: &str, phone: &str) -> Vec<Value> {
    let contacts = contacts_by_phone(api, campaign).await;
    let contact = contacts
        .iter()
        .find(|c| c["phone"] == phone)
        .unwrap_or_else(|| panic!("no contact {phone}"));
    let attempts = api.attempts(campaign).await.unwrap();
    attempts
        .iter()
        .find(|a| a["contactId"] == contact["id"])
        .and_then(|a| a["decisions"].as_array().cloned())
        .unwrap_or_default()
}

/// The contacts of the campaign's list.
pub async fn contacts_by_phone(api: &Api, campaign: &str) -> Vec<Value> {
    let campaign = api
        .get(&format!("/api/v1/campaigns/{campaign}"))
        .await
        .unwrap();
    let list = campaign["contactListId"].as_str().unwrap();
    let page = api
        .get(&format!(
            "/api/v1/contact-lists/{list}/contacts?perPage=500"
        ))
        .await
        .unwrap();
    page["data"].as_array().cloned().unwrap_or_default()
}
