//! Dial-time rules over simulated days: callee-local calling windows, the daily cap, and
//! pause / resume / stop.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use futures::FutureExt;
use outbound_tests::rig::Rig;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{contact, late_november, number, tuesday_morning_new_york};

/// When each call was created (engine clock) and to whom, from the database.
async fn dial_times(rig: &Rig) -> Vec<(String, DateTime<Utc>)> {
    sqlx::query_as::<_, (String, DateTime<Utc>)>(
        "select to_phone, created_at from calls order by created_at",
    )
    .fetch_all(&rig.db)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn calls_happen_only_inside_each_callees_window_and_under_the_daily_cap(db: PgPool) {
    // A Saturday at 12:00 UTC (2026-11-28 by default).
    let start = late_november(26, Weekday::Sat, 12, 0);
    let rig = Rig::start(db, start).await.unwrap();
    let zones = [
        "America/New_York",
        "America/Los_Angeles",
        "Europe/London",
        "Asia/Tokyo",
    ];
    let contacts: Vec<Value> = (0..12)
        .map(|i| json!({"phone": number(i), "timezone": zones[i as usize % zones.len()]}))
        .collect();
    let campaign = rig
        .start_campaign(
            contacts,
            json!({"schedule": {"timezone": "America/New_York",
                                "callingDays": ["mon", "tue", "wed", "thu", "fri"],
                                "startHour": 9, "endHour": 17},
                   "dailyCap": 5}),
        )
        .await
        .unwrap();
    let id = campaign.clone();
    rig.drive(Duration::minutes(15), 2000, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "completed") }.boxed()
    })
    .await
    .unwrap();

    let dials = dial_times(&rig).await;
    assert_eq!(dials.len(), 12, "every contact is called once");
    for (phone, at) in &dials {
        let i: usize = phone[phone.len() - 4..].parse().unwrap();
        let zone: Tz = zones[i % zones.len()].parse().unwrap();
        let local = at.with_timezone(&zone);
        assert!(
            !matches!(local.weekday(), Weekday::Sat | Weekday::Sun),
            "{phone} called on a weekend: {local}"
        );
        assert!((9..17).contains(&local.hour()), "{phone} called at {local}");
    }
    // At most five calls per campaign-local day.
    let ny: Tz = "America/New_York".parse().unwrap();
    let mut per_day = std::collections::BTreeMap::new();
    for (_, at) in &dials {
        *per_day
            .entry(at.with_timezone(&ny).date_naive())
            .or_insert(0) += 1;
    }
    assert!(
        per_day.values().all(|n| *n <= 5),
        "daily cap broken: {per_day:?}"
    );
    // The deferrals are on record.
    let attempts = rig.attempts(&campaign).await.unwrap();
    for expected in ["deferred_window", "deferred_cap"] {
        assert!(
            attempts.iter().any(|a| a["decisions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["decision"] == expected)),
            "no {expected} decision recorded"
        );
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_number_whose_zone_is_unknown_waits_for_a_window_that_holds_in_every_us_zone(db: PgPool) {
    // 13:30 UTC on a Tuesday: 08:30 in New York, 05:30 in Los Angeles, 03:30 in Honolulu.
    let start = late_november(22, Weekday::Tue, 13, 30);
    let rig = Rig::start(db, start).await.unwrap();
    let campaign = rig
        .start_campaign(vec![json!({"phone": number(1)})], json!({}))
        .await
        .unwrap();
    let id = campaign.clone();
    rig.drive(Duration::minutes(15), 500, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "completed") }.boxed()
    })
    .await
    .unwrap();
    let dials = dial_times(&rig).await;
    assert_eq!(dials.len(), 1);
    // 08:00 in Honolulu (UTC-10) is 18:00 UTC: the first moment it is 08:00+ everywhere.
    let honolulu = dials[0].1.with_timezone(&chrono_tz::Pacific::Honolulu);
    assert!(honolulu.hour() >= 8, "called at {honolulu} in Honolulu");
    let new_york = dials[0].1.with_timezone(&chrono_tz::America::New_York);
    assert!(new_york.hour() < 21, "called at {new_york} in New York");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn pause_stops_new_dials_resume_continues_and_stop_cancels_the_rest(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning_new_york()).await.unwrap();
    let contacts = (0..20).map(contact).collect();
    let campaign = rig
        .start_campaign(contacts, json!({"callsPerMinute": 2}))
        .await
        .unwrap();
    let dialed = || async { rig.twilio.calls().len() };
    // Two calls a minute: after three simulated minutes, a handful are out.
    for _ in 0..6 {
        rig.engine.tick().await.unwrap();
        rig.clock.advance(Duration::seconds(30));
    }
    let before_pause = dialed().await;
    assert!((2..20).contains(&before_pause), "{before_pause} dialed");
    rig.post(&format!("/api/v1/campaigns/{campaign}/pause"), json!({}))
        .await
        .unwrap();
    for _ in 0..10 {
        rig.engine.tick().await.unwrap();
        rig.clock.advance(Duration::minutes(1));
    }
    assert_eq!(dialed().await, before_pause, "a paused campaign dialed");

    rig.post(&format!("/api/v1/campaigns/{campaign}/resume"), json!({}))
        .await
        .unwrap();
    for _ in 0..4 {
        rig.engine.tick().await.unwrap();
        rig.clock.advance(Duration::seconds(30));
    }
    let after_resume = dialed().await;
    assert!(after_resume > before_pause, "resume dialed nothing");

    rig.post(&format!("/api/v1/campaigns/{campaign}/stop"), json!({}))
        .await
        .unwrap();
    for _ in 0..10 {
        rig.engine.tick().await.unwrap();
        rig.clock.advance(Duration::minutes(1));
    }
    assert_eq!(dialed().await, after_resume, "a stopped campaign dialed");
    let status = rig
        .get(&format!("/api/v1/campaigns/{campaign}/status"))
        .await
        .unwrap();
    assert_eq!(status["status"], "stopped");
    assert_eq!(status["progress"]["pending"], 0);
    assert_eq!(
        status["progress"]["canceled"].as_i64().unwrap(),
        20 - after_resume as i64,
        "everything not yet dialed is canceled: {status}"
    );
    // The calls already placed run to their end and are recorded as such.
    for _ in 0..100 {
        let status = rig
            .get(&format!("/api/v1/campaigns/{campaign}/status"))
            .await
            .unwrap();
        if status["progress"]["inProgress"] == 0 {
            assert_eq!(
                status["progress"]["done"].as_i64().unwrap(),
                after_resume as i64,
                "{status}"
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("live calls never finished after stop");
}
