//! Worker capacity decides who takes a call: two workers limited to one LiveKit job each
//! take two concurrent calls, one each; a third call that neither can take ends
//! `no_worker` without ringing the phone or using up its attempt, and is placed once a
//! worker is free again.

use std::collections::HashSet;

use futures::FutureExt;
use outbound_tests::livekit::{Callee, Scenario};
use outbound_tests::rig::livekit::LiveKitRig;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{contact, drive_until, now};

/// The campaign's calls that are live, with the worker that took each.
async fn live_calls(rig: &LiveKitRig) -> Vec<(String, Option<String>)> {
    sqlx::query_as("select id::text, worker_id from calls where status = 'in_progress'")
        .fetch_all(&rig.db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn two_one_job_workers_take_two_calls_one_each_and_a_third_waits_for_a_free_one(db: PgPool) {
    let rig = LiveKitRig::start(db, now(), 3).await.unwrap();
    let first = rig.worker_with_limit(1).await;
    let second = rig.worker_with_limit(1).await;
    let callee = Callee::start(Scenario::Answer { ring_ms: 100 })
        .await
        .unwrap();
    let campaign = rig
        .campaign_to(
            &callee,
            vec![contact(20), contact(21), contact(22)],
            json!({}),
        )
        .await
        .unwrap();

    drive_until(&rig, 1, "two calls live and one without a worker", |rig| {
        let campaign = campaign.clone();
        async move {
            let calls = rig.calls(&campaign).await.unwrap();
            let live = calls
                .iter()
                .filter(|c| c["status"] == "in_progress")
                .count();
            let no_worker = calls.iter().any(|c| c["endReason"] == "no_worker");
            live == 2 && no_worker
        }
        .boxed()
    })
    .await;

    // One call each: LiveKit offered the third job to both and both said no.
    let live = live_calls(&rig).await;
    let takers: HashSet<Option<String>> = live.iter().map(|(_, w)| w.clone()).collect();
    let expected: HashSet<Option<String>> = [&first, &second]
        .iter()
        .map(|w| Some(w.worker.worker_id.clone()))
        .collect();
    assert_eq!(takers, expected, "{live:?}");
    assert_eq!(
        callee.invites(),
        2,
        "the phone rang only for the calls a worker took"
    );

    // The contact no worker took: still pending, no attempt used.
    let attempts = rig.attempts(&campaign).await.unwrap();
    let waiting: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["lastResult"] == "no_worker")
        .collect();
    assert_eq!(waiting.len(), 1, "{attempts:?}");
    assert_eq!(waiting[0]["state"], "pending", "{}", waiting[0]);
    assert_eq!(waiting[0]["attempts"], 0, "{}", waiting[0]);
    let phone = waiting[0]["phone"].as_str().unwrap().to_string();

    // The operator ends one call: its worker is free, and the waiting contact is placed.
    let (ended, _) = &live[0];
    rig.post(&format!("/api/v1/calls/{ended}/end"), json!({}))
        .await
        .unwrap();
    drive_until(&rig, 1, "the waiting contact's call is live", |rig| {
        let campaign = campaign.clone();
        let phone = phone.clone();
        async move {
            let calls = rig.calls(&campaign).await.unwrap();
            calls
                .iter()
                .any(|c| c["to"] == phone.as_str() && c["status"] == "in_progress")
        }
        .boxed()
    })
    .await;
    let attempts = rig.attempts(&campaign).await.unwrap();
    let placed = attempts
        .iter()
        .find(|a| a["phone"] == phone.as_str())
        .unwrap();
    assert_eq!(placed["attempts"], 1, "{placed}");
    assert_eq!(callee.invites(), 3);
}
