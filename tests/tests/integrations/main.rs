//! Customers' integrations end to end: signed webhooks from the outbox (through the
//! Twilio rig, and through a control-plane process killed mid-retry), the pre-dial check,
//! post-call analysis on the LLM emulator, and tenancy of every route.

#![allow(unreachable_pub)]

mod analysis;
mod pre_dial;
mod receiver;
mod restart;
mod tenancy;
mod webhooks;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use control_plane::config::Settings;
use outbound_tests::rig::{Api, Rig};
use serde_json::{json, Value};
use sqlx::PgPool;

/// A Tuesday, 10:00 in New York: inside calling hours.
pub fn tuesday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

/// A New York number for `i`.
pub fn number(i: u32) -> String {
    format!("+1212300{i:04}")
}

pub fn contact(i: u32) -> Value {
    json!({"phone": number(i), "name": format!("Contact {i}"), "timezone": "America/New_York"})
}

/// Settings for the rig: the loops look for work often, and the end-of-call report does
/// not wait long for a worker that went quiet.
pub fn quick_webhooks(s: &mut Settings) {
    s.webhooks.poll_ms = 20;
    // The receivers listen on 127.0.0.1.
    s.webhooks.allow_private_targets = true;
    s.webhooks.report_grace_sec = 30.0;
    // The manual clock races ahead of real time: a lease must outlast a request's few
    // real milliseconds however far the test moves the clock meanwhile.
    s.webhooks.lease_sec = 86_400.0 * 7.0;
}

/// Every event type.
pub const ALL_EVENTS: &[&str] = &[
    "call.status",
    "call.report",
    "campaign.started",
    "campaign.paused",
    "campaign.completed",
    "campaign.stopped",
    "campaign.failed",
    "contact.opted_out",
];

/// Registers an endpoint; its id and the secret shown once.
pub async fn endpoint(api: &Api, url: &str, types: &[&str]) -> (String, String) {
    let created = api
        .post(
            "/api/v1/webhook-endpoints",
            json!({"url": url, "eventTypes": types}),
        )
        .await
        .unwrap();
    (
        created["id"].as_str().unwrap().to_string(),
        created["secret"].as_str().unwrap().to_string(),
    )
}

/// The organization's events in the log, oldest first: (id, type, call id).
pub async fn logged_events(
    db: &PgPool,
    org_of_endpoint: &str,
) -> Vec<(String, String, Option<String>)> {
    let endpoint: uuid::Uuid = org_of_endpoint.parse().unwrap();
    sqlx::query_as::<_, (uuid::Uuid, String, Option<uuid::Uuid>)>(
        "select e.id, e.type, e.call_id from org_events e
         where e.org_id = (select org_id from webhook_endpoints where id = $1) order by e.seq",
    )
    .bind(endpoint)
    .fetch_all(db)
    .await
    .unwrap()
    .into_iter()
    .map(|(id, kind, call)| (id.to_string(), kind, call.map(|c| c.to_string())))
    .collect()
}

/// Every logged event was taken exactly once by id, and each call's events were taken
/// in the log's order.
pub fn assert_all_once_in_order(logged: &[(String, String, Option<String>)], accepted: &[Value]) {
    let accepted_ids: Vec<&str> = accepted.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut sorted = accepted_ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), accepted_ids.len(), "an id taken twice");
    let mut logged_ids: Vec<&str> = logged.iter().map(|(id, _, _)| id.as_str()).collect();
    logged_ids.sort();
    assert_eq!(sorted, logged_ids, "taken vs logged events");
    let mut per_call_logged: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, _, call) in logged {
        if let Some(call) = call {
            per_call_logged.entry(call).or_default().push(id);
        }
    }
    for (call, ids) in per_call_logged {
        let taken: Vec<&str> = accepted
            .iter()
            .filter(|e| e["data"]["callId"] == call)
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        assert_eq!(taken, ids, "call {call}: events out of order");
    }
}

/// Polls `done` every 50 ms of real time, advancing the rig's clock by `step` each
/// round (deliveries wait on that clock to retry), until it holds or `limit` passes.
pub async fn drive_until<F>(rig: &Rig, step: chrono::Duration, limit: Duration, mut done: F)
where
    F: FnMut() -> bool,
{
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "not done after {limit:?}");
        rig.engine.tick().await.unwrap();
        rig.engine.maintain().await.unwrap();
        rig.clock.advance(step);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
