//! A control plane killed (SIGKILL) while LiveKit rings the callee: the call it was
//! placing is neither lost nor placed twice. The dialing replica is a real control-plane
//! process on the test's database; the survivor is the rig's in-process control plane,
//! which hears LiveKit's webhooks and reconciles by the call's room.

use std::time::{Duration, Instant};

use outbound_tests::livekit::{Callee, Scenario};
use outbound_tests::process::{control_plane_binary, test_database_url, ControlPlane};
use outbound_tests::rig::livekit::{
    LiveKitRig, AGENT_NAME, ENCRYPTION_KEY, JWT_SECRET, TOKEN_SECRET,
};
use outbound_tests::rig::{free_port, WORKER_KEY};
use serde_json::json;
use sqlx::PgPool;

use crate::{contact, now};

async fn until(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_control_plane_killed_while_the_phone_rings_neither_loses_nor_doubles_the_call(
    db: PgPool,
) {
    let rig = LiveKitRig::start(db.clone(), now(), 10).await.unwrap();
    let _worker = rig.worker().await;
    // It rings 3 s, long enough to kill the dialer in the middle.
    let callee = Callee::start(Scenario::Answer { ring_ms: 3000 })
        .await
        .unwrap();
    let campaign = rig
        .campaign_to(
            &callee,
            vec![contact(30)],
            // On the wall clock: open at any hour the test happens to run.
            json!({"allowOutsideLegalHours": true, "schedule": {"startHour": 0, "endHour": 24}}),
        )
        .await
        .unwrap();

    let port = free_port().unwrap();
    let settings: Vec<(&str, String)> = vec![
        ("CP__SERVER__PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("CP__WORKERS__API_KEY", WORKER_KEY.into()),
        ("CP__WORKERS__TOKEN_SECRET", TOKEN_SECRET.into()),
        ("CP__AUTH__JWT_SECRET", JWT_SECRET.into()),
        ("CP__AUTH__ENCRYPTION_KEY", ENCRYPTION_KEY.into()),
        ("CP__LIVEKIT__URL", rig.livekit.url.clone()),
        ("CP__LIVEKIT__API_KEY", rig.livekit.api_key.clone()),
        ("CP__LIVEKIT__API_SECRET", rig.livekit.api_secret.clone()),
        ("CP__LIVEKIT__AGENT_NAME", AGENT_NAME.into()),
        ("CP__ENGINE__TICK_MS", "100".into()),
        ("CP__ENGINE__RING_TIMEOUT_SEC", "10".into()),
        ("CP__SERVER__SHUTDOWN_GRACE_SEC", "1".into()),
    ];
    let log = std::env::temp_dir().join(format!("livekit-crash-{port}.log"));
    let dialer = ControlPlane::start_on(
        &control_plane_binary().unwrap(),
        &test_database_url(&db).unwrap(),
        &log,
        port,
        &settings,
    )
    .await
    .unwrap();
    until("the phone rings", Duration::from_secs(30), async || {
        callee.invites() == 1
    })
    .await;
    dialer.stop().await.unwrap();

    // The callee answers anyway: LiveKit holds the call in the room.
    let calls = rig.calls(&campaign).await.unwrap();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let id = calls[0]["id"].as_str().unwrap().to_string();
    let room = format!("call-{id}");
    until(
        "the callee is in the room, answered",
        Duration::from_secs(20),
        async || {
            let (_, list) = rig
                .livekit
                .twirp("RoomService", "ListParticipants", json!({"room": room}))
                .await
                .unwrap();
            list["participants"].as_array().is_some_and(|ps| {
                ps.iter().any(|p| {
                    p["identity"] == "callee" && p["attributes"]["sip.callStatus"] == "active"
                })
            })
        },
    )
    .await;

    // The survivor's upkeep, after its quiet spell, and a few ticks: it adopts the call
    // and dials nobody again.
    // LiveKit's webhook saw the callee join while ringing; of the answer only the dead
    // replica heard. What follows is reconciliation's work.
    let before = rig.calls(&campaign).await.unwrap().remove(0);
    assert!(before["providerCallId"].is_null(), "{before}");
    // The dead replica stamped the call's `heard_at` by the wall clock, and the rig's
    // quiet spell is 100,000 s: the survivor's clock is set from the wall clock, not
    // advanced from the rig's start (15:00 UTC of the last day it was 15:00), or from
    // about 11:00 to 15:00 UTC the call is not yet quiet long enough to be asked about.
    rig.clock
        .set(chrono::Utc::now() + chrono::Duration::days(2));
    for _ in 0..5 {
        rig.engine.maintain().await.unwrap();
        rig.engine.tick().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = rig.calls(&campaign).await.unwrap();
    assert_eq!(calls.len(), 1, "one call, never a second: {calls:?}");
    assert_eq!(calls[0]["status"], "in_progress", "{}", calls[0]);
    assert_eq!(calls[0]["providerCallId"], room.as_str());
    let attempt = rig.attempts(&campaign).await.unwrap().remove(0);
    assert_eq!(attempt["state"], "in_call", "{attempt}");
    assert_eq!(attempt["attempts"], 1);
    assert_eq!(callee.invites(), 1, "the callee was dialed once");

    // And the adopted call can be ended like any other.
    rig.post(&format!("/api/v1/calls/{id}/end"), json!({}))
        .await
        .unwrap();
    until("the call completes", Duration::from_secs(20), async || {
        rig.campaign_status(&campaign).await.unwrap() == "completed"
            || rig.calls(&campaign).await.unwrap()[0]["status"] == "completed"
    })
    .await;
}
