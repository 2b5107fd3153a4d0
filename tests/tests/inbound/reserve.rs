//! Inbound and outbound share the workers' slots: while a number answers with an
//! assistant, campaigns leave `engine.inbound_reserve_slots` free, so a caller still finds
//! a worker when campaigns run flat out.

use crate::{setup, CALLER, OURS};
use chrono::{TimeZone, Utc};
use outbound_tests::rig::Rig;
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn campaigns_leave_the_reserve_free_and_a_caller_takes_it(db: PgPool) {
    let start = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    // The stand-in worker holds 1000 calls: a reserve of 998 leaves campaigns two.
    let rig = Rig::start_with(db, start, |s| s.engine.inbound_reserve_slots = 998)
        .await
        .unwrap();
    setup(&rig.api, &rig.twilio, json!({})).await;
    let contacts = (0..5)
        .map(|i| json!({"phone": format!("+1212400{i:04}"), "timezone": "America/New_York"}))
        .collect();
    rig.start_campaign(contacts, json!({"maxAttempts": 1}))
        .await
        .unwrap();
    let dialed = rig.engine.tick().await.unwrap();
    assert_eq!(dialed, 2, "campaigns take only what the reserve leaves");
    assert_eq!(
        rig.engine.tick().await.unwrap(),
        0,
        "and no more while those last"
    );

    let sid = rig
        .twilio
        .place_inbound_call(CALLER, OURS, CalleeScript::answer())
        .unwrap();
    let report = rig
        .twilio
        .wait_until(&sid, Duration::from_secs(10), "the stream", |r| {
            !r.streams.is_empty()
        })
        .await
        .unwrap();
    assert!(
        report.twiml[0].contains("<Connect><Stream"),
        "{:?}",
        report.twiml
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn without_an_answering_number_campaigns_use_every_slot(db: PgPool) {
    let start = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    let rig = Rig::start_with(db, start, |s| s.engine.inbound_reserve_slots = 998)
        .await
        .unwrap();
    // A number with no assistant takes only voicemail: nothing to reserve for.
    setup(&rig.api, &rig.twilio, json!({"assistantId": null})).await;
    let contacts = (0..5)
        .map(|i| json!({"phone": format!("+1212400{i:04}"), "timezone": "America/New_York"}))
        .collect();
    rig.start_campaign(contacts, json!({"maxAttempts": 1}))
        .await
        .unwrap();
    assert_eq!(rig.engine.tick().await.unwrap(), 5);
}
