//! `livekit_sip` campaigns dialing sipp callees through livekit-server and livekit-sip:
//! each SIP answer ends its attempt as the campaign's retry rules say, and a dial no
//! worker takes ends `no_worker` without using up an attempt.

use std::time::Instant;

use futures::FutureExt;
use outbound_tests::livekit::{Callee, Scenario};
use outbound_tests::rig::livekit::LiveKitRig;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{contact, drive_to_completion, drive_until, now};

fn only(attempts: Vec<Value>) -> Value {
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    attempts.into_iter().next().unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_dial_no_worker_takes_ends_no_worker_without_using_an_attempt(db: PgPool) {
    let rig = LiveKitRig::start(db, now(), 1).await.unwrap();
    let callee = Callee::start(Scenario::Answer { ring_ms: 100 })
        .await
        .unwrap();
    let campaign = rig
        .campaign_to(&callee, vec![contact(1)], json!({}))
        .await
        .unwrap();

    // One round per second of the manual clock: the retry of a `no_worker` attempt is
    // 30 s away, so the first call's end is seen before the next dial.
    drive_until(&rig, 1, "the first call ended", |rig| {
        let campaign = campaign.clone();
        async move {
            let calls = rig.calls(&campaign).await.unwrap();
            calls.first().is_some_and(|c| c["status"] == "canceled")
        }
        .boxed()
    })
    .await;

    let calls = rig.calls(&campaign).await.unwrap();
    assert_eq!(calls[0]["endReason"], "no_worker", "{}", calls[0]);
    let attempt = only(rig.attempts(&campaign).await.unwrap());
    assert_eq!(attempt["state"], "pending", "{attempt}");
    assert_eq!(attempt["lastResult"], "no_worker");
    assert_eq!(
        attempt["attempts"], 0,
        "a dial no worker took is not an attempt"
    );
    // The phone never rang, and the room is gone.
    assert_eq!(callee.invites(), 0);
    let room = format!("call-{}", calls[0]["id"].as_str().unwrap());
    assert!(!rig.livekit.room_names().await.unwrap().contains(&room));
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn busy_declined_and_unanswered_callees_are_retried_by_the_campaigns_rules(db: PgPool) {
    let rig = LiveKitRig::start(db, now(), 10).await.unwrap();
    let worker = rig.worker().await;
    let busy = Callee::start(Scenario::Busy).await.unwrap();
    let decline = Callee::start(Scenario::Decline).await.unwrap();
    let silent = Callee::start(Scenario::NoAnswer).await.unwrap();
    let retries = json!({"maxAttempts": 2, "retry": {"busy": 1, "noAnswer": 1, "failed": 1}});
    let started = Instant::now();
    let mut campaigns = Vec::new();
    for (i, callee) in [&busy, &decline, &silent].into_iter().enumerate() {
        let id = rig
            .campaign_to(callee, vec![contact(i as u32)], retries.clone())
            .await
            .unwrap();
        campaigns.push(id);
    }
    for campaign in &campaigns {
        drive_to_completion(&rig, campaign).await;
    }
    eprintln!("three campaigns of two dials each: {:?}", started.elapsed());

    let expected = [
        (&busy, "busy", "busy"),
        (&decline, "declined", "failed"),
        (&silent, "no_answer", "no_answer"),
    ];
    for ((callee, result, status), campaign) in expected.into_iter().zip(&campaigns) {
        let attempt = only(rig.attempts(campaign).await.unwrap());
        assert_eq!(attempt["state"], "exhausted", "{result}: {attempt}");
        assert_eq!(attempt["lastResult"], result, "{attempt}");
        assert_eq!(attempt["attempts"], 2, "{result}: {attempt}");
        assert_eq!(callee.invites(), 2, "{result}: one INVITE per dial");
        let calls = rig.calls(campaign).await.unwrap();
        assert_eq!(calls.len(), 2);
        for call in &calls {
            // A wrong status names its cause only in the SIP traces: show both ends'.
            assert_eq!(
                call["status"],
                status,
                "{result}: {call}\ncallee's SIP messages:\n{}\nlivekit-sip:\n{}",
                callee.messages(),
                rig.sip.log()
            );
        }
    }
    // Every dial went to the agent worker first: it took the job, fetched the call with
    // the dispatch's token and reported `connected` before the phone rang.
    let taken: Vec<Option<String>> =
        sqlx::query_scalar("select worker_id from calls order by created_at")
            .fetch_all(&rig.db)
            .await
            .unwrap();
    assert_eq!(taken.len(), 6);
    let id = &worker.worker.worker_id;
    assert!(
        taken.iter().all(|w| w.as_ref() == Some(id)),
        "{taken:?} != {id}"
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn answered_calls_end_by_the_callee_or_the_operator_and_webhooks_record_it(db: PgPool) {
    let rig = LiveKitRig::start(db, now(), 10).await.unwrap();
    let _worker = rig.worker().await;
    let hangs_up = Callee::start(Scenario::HangUp {
        ring_ms: 100,
        talk_ms: 1000,
    })
    .await
    .unwrap();
    let stays = Callee::start(Scenario::Answer { ring_ms: 100 })
        .await
        .unwrap();
    let by_callee = rig
        .campaign_to(&hangs_up, vec![contact(10)], json!({}))
        .await
        .unwrap();
    let by_operator = rig
        .campaign_to(&stays, vec![contact(11)], json!({}))
        .await
        .unwrap();

    // The callee who hangs up: LiveKit's participant_left webhook ends the call.
    drive_to_completion(&rig, &by_callee).await;
    let attempt = only(rig.attempts(&by_callee).await.unwrap());
    assert_eq!(attempt["state"], "done");
    assert_eq!(attempt["lastResult"], "answered");
    let call = rig.calls(&by_callee).await.unwrap().remove(0);
    assert_eq!(call["status"], "completed", "{call}");
    assert!(call["answeredAt"].is_string(), "{call}");

    // The callee who stays: answered (sip.callStatus active), until the operator ends it.
    drive_until(&rig, 1, "the call is answered", |rig| {
        let campaign = by_operator.clone();
        async move {
            let calls = rig.calls(&campaign).await.unwrap();
            calls.first().is_some_and(|c| c["status"] == "in_progress")
        }
        .boxed()
    })
    .await;
    let call = rig.calls(&by_operator).await.unwrap().remove(0);
    let room = format!("call-{}", call["id"].as_str().unwrap());
    let (status, participants) = rig
        .livekit
        .twirp("RoomService", "ListParticipants", json!({"room": room}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{participants}");
    let callee = participants["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["identity"] == "callee")
        .cloned()
        .unwrap_or_else(|| panic!("no SIP participant: {participants}"));
    assert_eq!(callee["attributes"]["sip.callStatus"], "active", "{callee}");

    let id = call["id"].as_str().unwrap();
    rig.post(&format!("/api/v1/calls/{id}/end"), json!({}))
        .await
        .unwrap();
    drive_to_completion(&rig, &by_operator).await;
    let call = rig.calls(&by_operator).await.unwrap().remove(0);
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["endReason"], "ended_by_operator", "{call}");
    assert!(!rig.livekit.room_names().await.unwrap().contains(&room));
    assert!(
        stays.messages().contains("BYE sip:"),
        "the callee got a BYE"
    );
}
