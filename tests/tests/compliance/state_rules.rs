//! State rules over simulated days on the manual clock: Florida's 8:00-20:00 hours and its
//! three calls per 24 hours to one number, while a New York number next to it keeps the
//! federal 8:00-21:00 window.

use chrono::{DateTime, Duration, Timelike, Utc, Weekday};
use futures::FutureExt;
use outbound_tests::rig::Rig;
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;

use crate::{decisions_for, late_november};

/// When each call to `phone` was created (engine clock), oldest first.
async fn dial_times(rig: &Rig, phone: &str) -> Vec<DateTime<Utc>> {
    sqlx::query_scalar::<_, DateTime<Utc>>(
        "select created_at from calls where to_phone = $1 order by created_at",
    )
    .bind(phone)
    .fetch_all(&rig.db)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_florida_number_is_not_called_after_8_pm_where_new_york_still_may_be(db: PgPool) {
    // Tuesday 01:30 UTC is Monday 20:30 in New York (and Miami).
    let start = late_november(22, Weekday::Tue, 1, 30);
    let rig = Rig::start(db, start).await.unwrap();
    let (miami, new_york) = ("+13055550142", "+12122000001");
    let zone = "America/New_York";
    let campaign = rig
        .start_campaign(
            vec![
                json!({"phone": miami, "timezone": zone}),
                json!({"phone": new_york, "timezone": zone}),
            ],
            json!({}),
        )
        .await
        .unwrap();
    let id = campaign.clone();
    rig.drive(Duration::minutes(15), 200, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "completed") }.boxed()
    })
    .await
    .unwrap();

    let ny = dial_times(&rig, new_york).await;
    assert_eq!(ny, vec![start], "New York is called at 20:30, inside 8-21");
    let fl = dial_times(&rig, miami).await;
    assert_eq!(fl.len(), 1);
    let local = fl[0].with_timezone(&chrono_tz::America::New_York);
    assert_eq!(
        (local.hour(), local.minute()),
        (8, 0),
        "Miami waits for 08:00 the next morning, not 20:30: called at {local}"
    );
    let decisions = decisions_for(&rig, &campaign, miami).await;
    let deferred = decisions
        .iter()
        .find(|d| d["decision"] == "deferred_state_hours")
        .unwrap_or_else(|| panic!("no state-hours deferral in {decisions:?}"));
    let detail = deferred["detail"].as_str().unwrap();
    assert!(
        detail.contains("501.616"),
        "the rule cites its source: {detail}"
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_florida_number_gets_at_most_three_calls_in_any_24_hours(db: PgPool) {
    // Tuesday 14:00 UTC: 09:00 in Miami.
    let start = late_november(22, Weekday::Tue, 14, 0);
    let rig = Rig::start(db, start).await.unwrap();
    let miami = "+13055550143";
    rig.twilio.register_callee(miami, CalleeScript::busy());
    let campaign = rig
        .start_campaign(
            vec![json!({"phone": miami, "timezone": "America/New_York"})],
            json!({"maxAttempts": 10, "retry": {"busy": 0}}),
        )
        .await
        .unwrap();
    // Ten-minute steps over two simulated days; stop once the fifth call is placed.
    let rounds = rig
        .drive(Duration::minutes(10), 400, move |rig| {
            async move { Ok(dial_times(rig, "+13055550143").await.len() >= 5) }.boxed()
        })
        .await
        .unwrap();
    assert!(rounds > 144, "the fifth call came before a day had passed");

    let times = dial_times(&rig, miami).await;
    for (i, at) in times.iter().enumerate() {
        let in_window = times
            .iter()
            .filter(|t| **t > *at - Duration::hours(24) && **t <= *at)
            .count();
        assert!(
            in_window <= 3,
            "call {i} at {at} is the {in_window}th in 24 h: {times:?}"
        );
        let local = at.with_timezone(&chrono_tz::America::New_York);
        assert!((8..20).contains(&local.hour()), "called at {local}");
    }
    // The fourth call waits until the first leaves the 24-hour window.
    assert!(times[3] >= times[0] + Duration::hours(24), "{times:?}");
    assert!(times[3] <= times[0] + Duration::hours(24) + Duration::minutes(20));
    let decisions = decisions_for(&rig, &campaign, miami).await;
    assert!(
        decisions
            .iter()
            .any(|d| d["decision"] == "deferred_state_frequency"),
        "{decisions:?}"
    );
}
