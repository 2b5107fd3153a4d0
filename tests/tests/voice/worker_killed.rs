//! A worker killed mid-call (SIGKILL, as in a crash): the call ends failed with a reason,
//! never stuck in progress.

use crate::{assistant, number};
use outbound_tests::rig::voice::{RigWorker, VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;
use std::time::{Duration, Instant};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_worker_killed_mid_call_leaves_the_call_failed_with_a_reason(db: PgPool) {
    let _slot = crate::slot(1).await;
    let options = VoiceOptions {
        worker_process: true,
        control_plane: Box::new(|settings| {
            settings.engine.worker_grace_sec = 1;
        }),
        ..VoiceOptions::default()
    };
    let mut rig = VoiceRig::start(db, options).await.unwrap();
    let phone = number(40);
    rig.twilio.register_callee(
        &phone,
        CalleeScript::answer_after(200)
            .reply(300, "my code is token-33")
            .hang_up_after(60_000),
    );
    let contacts = vec![json!({"phone": phone, "timezone": "America/New_York"})];
    rig.start_campaign_with(
        contacts,
        assistant(),
        json!({"maxAttempts": 1, "allowOutsideLegalHours": true,
               "schedule": {"timezone": "America/New_York",
                   "callingDays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                   "startHour": 0, "endHour": 24}}),
    )
    .await
    .unwrap();
    // Wait until the callee has heard the agent: the conversation is under way.
    let dialed = rig
        .twilio
        .wait_for_dial(&phone, Duration::from_secs(20))
        .await
        .unwrap();
    let started = Instant::now();
    while rig.twilio.call(&dialed.sid).unwrap().heard.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the agent never spoke"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let RigWorker::Process(worker) = std::mem::replace(&mut rig.worker, RigWorker::Gone) else {
        panic!("the rig's worker is not a process");
    };
    worker.kill().await.unwrap();

    let started = Instant::now();
    let call = loop {
        let page = rig.get("/api/v1/calls?perPage=10").await.unwrap();
        let call = page["data"][0].clone();
        if call["status"] == "failed" {
            break call;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "call stuck: {call}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(call["endReason"], "worker_lost", "{call}");
}
