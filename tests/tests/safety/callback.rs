//! The callback tool: a callee asks to be called back at a time outside the campaign's
//! calling window; the appointment is moved to the window's next opening, and the engine
//! calls again exactly then (on the manual clock, through the Twilio emulator), without
//! counting the callback as a failed attempt. The stand-in worker reports the tool's
//! event the way the real worker does (`schedule_callback` on the call's events).

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::FutureExt;
use outbound_tests::rig::Rig;
use serde_json::json;
use sqlx::PgPool;

use crate::contact;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_callback_asked_for_outside_the_window_is_kept_at_the_windows_next_opening(db: PgPool) {
    // Tuesday 24 November 2026, 10:00 in New York (UTC-5).
    let start = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    let rig = Rig::start(db, start).await.unwrap();
    // "Call me back at 18:30": after the window's 17:00 close.
    let asked = Utc.with_ymd_and_hms(2026, 11, 24, 23, 30, 0).unwrap();
    rig.worker.set_script(vec![
        json!({"type": "schedule_callback", "at": asked.to_rfc3339()}),
        json!({"type": "outcome", "outcome": "callback"}),
    ]);
    let phone = "+12123007201";
    let campaign = rig
        .start_campaign(
            vec![contact(phone)],
            json!({"maxAttempts": 1,
                   "schedule": {"timezone": "America/New_York",
                                "callingDays": ["mon", "tue", "wed", "thu", "fri"],
                                "startHour": 9, "endHour": 17}}),
        )
        .await
        .unwrap();
    assert_eq!(rig.engine.tick().await.unwrap(), 1);
    // The call runs (real seconds) on a still clock; its end settles the attempt.
    let settled = wait_settled(&rig, &campaign).await;
    // Wednesday 09:00 in New York: the window's next opening after 18:30 Tuesday.
    let opening = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
    assert_eq!(settled["state"], "pending", "{settled}");
    assert_eq!(
        settled["nextAttemptAt"].as_str().map(parse),
        Some(opening),
        "{settled}"
    );
    // A callback is an appointment, not a spent try: one attempt allowed, still due.
    assert_eq!(settled["attempts"], 0, "{settled}");

    // The second call happens at the opening, not before.
    rig.worker.set_script(Vec::new());
    rig.drive(Duration::minutes(15), 200, |rig| {
        async move { Ok(rig.twilio.calls_to(phone).len() == 2) }.boxed()
    })
    .await
    .unwrap();
    let second = rig.twilio.calls_to(phone)[1].created_at;
    assert!(
        second >= opening && second < opening + Duration::minutes(15),
        "called back at {second}, the window opened at {opening}"
    );
    // The attempt never waited on the window at dial time: it was due inside it.
    let attempts = rig.attempts(&campaign).await.unwrap();
    let decisions: Vec<&str> = attempts[0]["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["decision"].as_str())
        .collect();
    assert_eq!(decisions, ["dialed", "dialed"], "{attempts:?}");
}

/// Waits (real time, clock still) until the campaign's one attempt is no longer in a call.
async fn wait_settled(rig: &Rig, campaign: &str) -> serde_json::Value {
    for _ in 0..200 {
        let attempts = rig.attempts(campaign).await.unwrap();
        if let Some(attempt) = attempts.first() {
            if !["leased", "dialing", "in_call"].contains(&attempt["state"].as_str().unwrap_or(""))
                && attempt["results"].as_array().is_some_and(|h| !h.is_empty())
            {
                return attempt.clone();
            }
        }
        rig.engine.maintain().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the first call never ended");
}

fn parse(at: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(at)
        .unwrap()
        .with_timezone(&Utc)
}
