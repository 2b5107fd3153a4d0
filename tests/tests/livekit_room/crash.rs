//! A worker killed mid-call: the agent-worker binary, as its own process, holds a LiveKit
//! call with our SIP phone; SIGKILL takes it away while the callee listens. LiveKit sees
//! the agent leave the room; the control plane fails the call with `worker_lost` and
//! deletes the room, which hangs up the callee (who gets a BYE rather than silence).

use std::time::{Duration, Instant};

use futures::FutureExt;
use outbound_tests::livekit::phone::{Phone, PhoneScript};
use outbound_tests::rig::livekit::LiveKitRig;
use serde_json::{json, Value};
use sqlx::PgPool;

/// How long after the kill the call may take to be failed and hung up, on a loaded CI
/// machine (LiveKit notices a participant's lost connection; the figure is printed).
const NOTICED_WITHIN: Duration = Duration::from_secs(40);

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_worker_killed_mid_call_leaves_the_call_failed_worker_lost_and_the_room_deleted(
    db: PgPool,
) {
    let rig = LiveKitRig::start(db, LiveKitRig::now(), 10).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("worker.log");
    let worker = rig.worker_process(&log).await.unwrap();
    // The callee answers and listens; it never hangs up by itself.
    let phone = Phone::start(PhoneScript::answer_after(300)).await.unwrap();
    let contact = json!({"phone": "+12123000001", "name": "Contact 1",
                         "timezone": "America/New_York"});
    let campaign = rig
        .campaign_to_port(phone.port, vec![contact], json!({"maxAttempts": 1}))
        .await
        .unwrap();

    // Mid-call: answered, and the agent's first message has reached the callee's ear.
    rig.drive_until(1, 1500, "the callee heard the agent", |rig| {
        let campaign = campaign.clone();
        let heard = !phone.report().heard.is_empty();
        async move {
            let calls = rig.calls(&campaign).await.unwrap_or_default();
            heard && calls.first().is_some_and(|c| c["status"] == "in_progress")
        }
        .boxed()
    })
    .await;
    let call = rig.calls(&campaign).await.unwrap().remove(0);
    let id = call["id"].as_str().unwrap().to_string();
    let room = format!("call-{id}");
    assert!(rig.livekit.room_names().await.unwrap().contains(&room));

    worker.kill().await.unwrap();
    let killed = Instant::now();
    let call = loop {
        let call: Value = rig.get(&format!("/api/v1/calls/{id}")).await.unwrap();
        let gone = !rig.livekit.room_names().await.unwrap().contains(&room);
        if call["status"] == "failed" && gone {
            break call;
        }
        assert!(
            killed.elapsed() < NOTICED_WITHIN,
            "not failed and hung up {NOTICED_WITHIN:?} after the kill: {call}, room gone: \
             {gone}\nworker log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "the call was failed and its room deleted {:?} after the kill",
        killed.elapsed()
    );
    assert_eq!(call["endReason"], "worker_lost", "{call}");
    assert!(call["endedAt"].is_string(), "{call}");
    // The room's deletion hung up the SIP leg: the callee got a BYE.
    let mut report = phone.report();
    for _ in 0..50 {
        if report.ended_by.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        report = phone.report();
    }
    assert_eq!(report.ended_by.as_deref(), Some("caller"), "{report:#?}");
    // The attempt is settled (failed, and with one attempt allowed, exhausted).
    let attempt = rig.attempts(&campaign).await.unwrap().remove(0);
    assert_eq!(attempt["lastResult"], "failed", "{attempt}");
    assert_eq!(attempt["state"], "exhausted", "{attempt}");
}
