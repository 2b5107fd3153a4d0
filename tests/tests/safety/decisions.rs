//! Every engine deferral writes its decision row (OUTBOUND_CALLS.md, section 2): an
//! attempt that waits for the trunk's rate, for the provider's "too many requests", or
//! for a campaign paused while it was being dialed has a line in the attempts view that
//! says so. (The window, the daily cap, the budget, the abandonment rate, consent and the
//! state rules are checked in the engine and compliance suites.)

use chrono::{Duration, TimeZone, Utc};
use outbound_tests::rig::Rig;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::contact;

/// A Tuesday, 10:00 in New York.
fn tuesday_morning() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

fn decisions(attempts: &[Value]) -> Vec<String> {
    attempts
        .iter()
        .flat_map(|a| a["decisions"].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d["decision"].as_str().map(str::to_string))
        .collect()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_attempt_waiting_for_the_trunks_rate_says_so(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning()).await.unwrap();
    let campaign = rig
        .start_campaign(
            (0..3)
                .map(|i| contact(&format!("+1212300{:04}", 7500 + i)))
                .collect(),
            json!({"maxAttempts": 1, "trunk": {"callsPerSecond": 1}}),
        )
        .await
        .unwrap();
    // On a still clock, one tick takes the slot now, the next the one a second ahead (the
    // horizon), and the third finds none within the horizon: that attempt waits.
    let mut dialed = 0;
    for _ in 0..3 {
        dialed += rig.engine.tick().await.unwrap();
    }
    assert_eq!(
        dialed, 2,
        "slots a second apart within a one-second horizon"
    );
    let attempts = rig.attempts(&campaign).await.unwrap();
    let all = decisions(&attempts);
    assert_eq!(all.iter().filter(|d| *d == "dialed").count(), 2, "{all:?}");
    assert!(all.iter().any(|d| d == "deferred_rate"), "{all:?}");
    let waiting = attempts
        .iter()
        .find(|a| a["decisions"][0]["decision"] == "deferred_rate")
        .unwrap();
    assert!(
        waiting["decisions"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("calls per second"),
        "{waiting}"
    );
    assert_eq!(waiting["state"], "pending");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_dial_the_provider_turns_away_for_now_is_deferred_with_a_decision(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning()).await.unwrap();
    rig.twilio.fail_next_creates(1, 20429);
    let campaign = rig
        .start_campaign(vec![contact("+12123007600")], json!({"maxAttempts": 1}))
        .await
        .unwrap();
    rig.engine.tick().await.unwrap();
    let attempts = rig.attempts(&campaign).await.unwrap();
    assert_eq!(
        decisions(&attempts),
        ["dialed", "deferred_provider"],
        "{attempts:?}"
    );
    assert_eq!(attempts[0]["state"], "pending");
    // And it is dialed once the back-off has passed.
    rig.clock.advance(Duration::seconds(10));
    rig.engine.tick().await.unwrap();
    assert_eq!(rig.twilio.dial_count("+12123007600"), 1);
}
