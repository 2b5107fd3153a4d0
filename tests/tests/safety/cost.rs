//! A call's cost includes telephony: when Twilio's final status callback brings the call's
//! duration, the control plane prices its minutes (each started minute, at
//! `twilio.cents_per_minute`) into a `telephony` line of the cost breakdown, and the
//! call's total and the campaign's spend include it beside what the worker reported.

use chrono::{Duration, TimeZone, Utc};
use outbound_tests::rig::Rig;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::contact;

const CENTS_PER_MINUTE: f64 = 1.3;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_calls_cost_has_a_telephony_line_for_its_minutes_and_the_total_includes_it(db: PgPool) {
    let start = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    let rig = Rig::start_with(db, start, |s| s.twilio.cents_per_minute = CENTS_PER_MINUTE)
        .await
        .unwrap();
    // The worker's own providers cost 2 cents.
    rig.worker.report_cost_cents(Some(2.0));
    let campaign = rig
        .start_campaign(vec![contact("+12123007700")], json!({"maxAttempts": 1}))
        .await
        .unwrap();
    assert_eq!(rig.engine.tick().await.unwrap(), 1);
    let sid = rig
        .twilio
        .wait_for_dial("+12123007700", std::time::Duration::from_secs(10))
        .await
        .unwrap()
        .sid;
    rig.twilio
        .wait_until(
            &sid,
            std::time::Duration::from_secs(10),
            "the answer",
            |r| r.answered_at.is_some(),
        )
        .await
        .unwrap();
    // The call lasts 90 seconds on Twilio's (the test's) clock: two billed minutes.
    rig.clock.advance(Duration::seconds(90));
    let call = wait_for_cost(&rig, &campaign).await;
    let telephony = &call["costBreakdown"]["telephony"];
    assert_eq!(telephony["billedMinutes"], 2, "{call}");
    assert_eq!(telephony["centsPerMinute"], CENTS_PER_MINUTE, "{call}");
    let cents = telephony["cents"].as_f64().unwrap();
    assert!((cents - 2.6).abs() < 1e-9, "{call}");
    let total = call["costCents"].as_f64().unwrap();
    assert!(
        (total - 4.6).abs() < 1e-9,
        "worker 2 + telephony 2.6: {call}"
    );

    let stats = rig
        .get(&format!("/api/v1/campaigns/{campaign}/stats"))
        .await
        .unwrap();
    let spent = stats["totalCostCents"].as_f64().unwrap();
    assert!((spent - 4.6).abs() < 1e-9, "{stats}");
}

/// The campaign's one call once both its worker usage and its final status are in.
async fn wait_for_cost(rig: &Rig, campaign: &str) -> Value {
    for _ in 0..200 {
        let page = rig
            .get(&format!("/api/v1/calls?campaignId={campaign}"))
            .await
            .unwrap();
        let call = page["data"][0].clone();
        if call["costBreakdown"]["telephony"].is_object()
            && call["costCents"].as_f64().unwrap_or(0.0) >= 2.0
        {
            // The list view may abbreviate: read the call itself.
            let id = call["id"].as_str().unwrap();
            return rig.get(&format!("/api/v1/calls/{id}")).await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the call's cost never had both parts");
}
