//! Safety paths of the engine that were built but untested (issue 18, item 1): the
//! monthly budget pauses dialing with its reason, and `maxConcurrentCalls` is never
//! exceeded. Both through the Twilio emulator on the manual clock.

use chrono::{Duration, Weekday};
use futures::FutureExt;
use outbound_tests::rig::Rig;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::late_november;

fn contacts(n: u32) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"phone": format!("+1212200{i:04}"), "timezone": "America/New_York"}))
        .collect()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_campaign_over_its_monthly_budget_pauses_with_the_reason_and_dials_no_more(db: PgPool) {
    // Telephony is free here, so the spend is exactly what the worker reports (the
    // telephony line is tested in the safety suite).
    let rig = Rig::start_with(db, late_november(22, Weekday::Tue, 15, 0), |s| {
        s.twilio.cents_per_minute = 0.0
    })
    .await
    .unwrap();
    // Every call costs 40 cents; the month's budget is one dollar.
    rig.worker.report_cost_cents(Some(40.0));
    let campaign = rig
        .start_campaign(
            contacts(10),
            json!({"maxConcurrentCalls": 1, "budget": {"monthlyCents": 100}}),
        )
        .await
        .unwrap();
    let id = campaign.clone();
    rig.drive(Duration::seconds(5), 400, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "paused") }.boxed()
    })
    .await
    .unwrap();
    let status = rig
        .get(&format!("/api/v1/campaigns/{campaign}/status"))
        .await
        .unwrap();
    assert_eq!(status["statusReason"], "monthly budget reached");
    // Three calls reach 120 cents; the engine stops before a fourth.
    let dialed = rig.twilio.calls().len();
    assert_eq!(
        dialed, 3,
        "dialed {dialed} calls on a 100-cent budget at 40 cents a call"
    );
    let stats = rig
        .get(&format!("/api/v1/campaigns/{campaign}/stats"))
        .await
        .unwrap();
    assert_eq!(stats["totalCostCents"], 120.0, "{stats}");
    let attempts = rig.attempts(&campaign).await.unwrap();
    assert!(attempts.iter().any(|a| a["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["decision"] == "deferred_budget")));
    // A paused campaign stays paused: more rounds dial nothing.
    for _ in 0..5 {
        rig.engine.tick().await.unwrap();
        rig.clock.advance(Duration::seconds(5));
    }
    assert_eq!(rig.twilio.calls().len(), 3);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn max_concurrent_calls_is_never_exceeded(db: PgPool) {
    let rig = Rig::start(db, late_november(22, Weekday::Tue, 15, 0))
        .await
        .unwrap();
    let campaign = rig
        .start_campaign(contacts(9), json!({"maxConcurrentCalls": 2}))
        .await
        .unwrap();
    let id = campaign.clone();
    let mut most = 0;
    for _ in 0..600 {
        rig.engine.tick().await.unwrap();
        rig.engine.maintain().await.unwrap();
        // Calls that hold a line: everything not yet ended.
        let live: i64 = sqlx::query_scalar(
            "select count(*) from calls
             where status in ('queued', 'initiated', 'ringing', 'in_progress')",
        )
        .fetch_one(&rig.db)
        .await
        .unwrap();
        let ringing = rig.twilio.calls().iter().filter(|c| !c.is_ended()).count() as i64;
        most = most.max(live).max(ringing);
        assert!(
            live <= 2 && ringing <= 2,
            "{live} calls live, {ringing} at Twilio"
        );
        if rig.campaign_status(&id).await.unwrap() == "completed" {
            break;
        }
        rig.clock.advance(Duration::seconds(5));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(rig.campaign_status(&campaign).await.unwrap(), "completed");
    assert_eq!(rig.twilio.calls().len(), 9);
    assert_eq!(most, 2, "the campaign never used its two lines at once");
}
