//! Webhooks through the Twilio rig: every event of a campaign reaches a receiver that
//! fails each one's first two attempts, signed, once each, in order per call; a receiver
//! with the wrong secret refuses all; the delivery log shows it; redeliver sends again.

use std::time::Duration;

use outbound_tests::rig::Rig;
use outbound_tests::twilio::CalleeScript;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::receiver::Receiver;
use crate::{
    assert_all_once_in_order, contact, drive_until, endpoint, logged_events, number,
    quick_webhooks, tuesday_morning, ALL_EVENTS,
};

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn every_event_arrives_signed_once_in_order_per_call_after_failed_attempts(db: PgPool) {
    let rig = Rig::start_with(db.clone(), tuesday_morning(), quick_webhooks)
        .await
        .unwrap();
    let receiver = Receiver::start(2).await;
    let (endpoint_id, secret) = endpoint(&rig.api, &receiver.url(), ALL_EVENTS).await;
    assert!(secret.starts_with("whsec_"));
    receiver.set_secret(&secret);
    // The same events to a receiver that holds the wrong secret.
    let impostor = Receiver::start(0).await;
    let (impostor_id, _) = endpoint(&rig.api, &impostor.url(), &["call.status"]).await;
    impostor.set_secret("whsec_not-the-one-we-were-given");

    rig.worker.set_script(vec![
        json!({"type": "transcript", "speaker": "agent", "text": "Hello, is now a good time?",
               "startMs": 0, "endMs": 900}),
        json!({"type": "transcript", "speaker": "callee", "text": "No. Do not call me again.",
               "startMs": 1000, "endMs": 1900}),
        json!({"type": "outcome", "outcome": "do_not_call"}),
    ]);
    rig.twilio
        .register_callee(&number(0), CalleeScript::answer());
    rig.twilio.register_callee(&number(1), CalleeScript::busy());
    rig.twilio
        .register_callee(&number(2), CalleeScript::answer());
    let campaign = rig
        .start_campaign((0..3).map(contact).collect(), json!({"maxAttempts": 1}))
        .await
        .unwrap();

    let mut completed = false;
    let started = std::time::Instant::now();
    while !completed || receiver.accepted().len() < logged_events(&db, &endpoint_id).await.len() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "events still missing"
        );
        completed = rig.campaign_status(&campaign).await.unwrap() == "completed";
        rig.engine.tick().await.unwrap();
        rig.engine.maintain().await.unwrap();
        rig.clock.advance(chrono::Duration::seconds(20));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let logged = logged_events(&db, &endpoint_id).await;
    let accepted = receiver.accepted();
    assert_all_once_in_order(&logged, &accepted);
    for event in &accepted {
        let id = event["id"].as_str().unwrap();
        assert_eq!(
            receiver.attempts(id),
            3,
            "two failures, then taken: {event}"
        );
    }
    assert_eq!(receiver.duplicates(), 0);
    assert_eq!(of_type(&accepted, "campaign.started").len(), 1);
    assert_eq!(of_type(&accepted, "campaign.completed").len(), 1);
    assert_eq!(of_type(&accepted, "contact.opted_out").len(), 2);
    let reports = of_type(&accepted, "call.report");
    assert_eq!(reports.len(), 3, "one report per call");
    for call in reports.iter().map(|r| r["data"]["callId"].clone()) {
        let statuses: Vec<&str> = accepted
            .iter()
            .filter(|e| e["type"] == "call.status" && e["data"]["callId"] == call)
            .map(|e| e["data"]["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses.first(), Some(&"queued"), "{statuses:?}");
        assert_eq!(statuses.last(), Some(&"ended"), "{statuses:?}");
        let types: Vec<&str> = accepted
            .iter()
            .filter(|e| e["data"]["callId"] == call)
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types.last(),
            Some(&"call.report"),
            "the report comes last: {types:?}"
        );
    }
    let answered = reports
        .iter()
        .find(|r| r["data"]["to"] == number(0))
        .unwrap();
    let data = &answered["data"];
    assert_eq!(data["status"], "completed");
    assert_eq!(data["outcome"], "do_not_call");
    assert_eq!(data["endedReason"], "stand_in_done");
    assert_eq!(data["transcript"][1]["text"], "No. Do not call me again.");
    assert!(data["costCents"].is_number() && data["latency"].is_object());
    let busy = reports
        .iter()
        .find(|r| r["data"]["to"] == number(1))
        .unwrap();
    assert_eq!(busy["data"]["status"], "busy");
    assert_eq!(busy["data"]["transcript"], json!([]));

    // The delivery log tells the same story.
    let log = rig
        .get(&format!(
            "/api/v1/webhook-endpoints/{endpoint_id}/deliveries?state=succeeded&perPage=500"
        ))
        .await
        .unwrap();
    assert_eq!(log["total"], logged.len());
    let one = &log["data"][0];
    assert_eq!(one["attempts"], 3);
    assert_eq!(one["lastStatus"], 200);

    // The impostor refused every delivery; they wait, pending, with the 401 on record.
    assert!(impostor.rejected() > 0);
    assert!(impostor.accepted().is_empty());
    let refused = rig
        .get(&format!(
            "/api/v1/webhook-endpoints/{impostor_id}/deliveries?state=pending"
        ))
        .await
        .unwrap();
    assert!(refused["total"].as_i64().unwrap() > 0);
    // Those tried (each call's first; the rest wait behind it, in order) got the 401.
    let tried: Vec<&Value> = refused["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["attempts"].as_i64().unwrap() > 0)
        .collect();
    assert!(!tried.is_empty());
    assert!(tried.iter().all(|d| d["lastStatus"] == 401), "{refused}");

    // Redelivery sends a delivered event again, with the same id.
    receiver.set_fail_first(0);
    let delivery = one["id"].as_i64().unwrap();
    let again = rig
        .post(
            &format!("/api/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery}/redeliver"),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(again["state"], "pending");
    drive_until(
        &rig,
        chrono::Duration::seconds(1),
        Duration::from_secs(10),
        || receiver.duplicates() == 1,
    )
    .await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_dead_endpoint_gives_up_after_a_day_without_holding_up_another(db: PgPool) {
    let rig = Rig::start_with(db.clone(), tuesday_morning(), quick_webhooks)
        .await
        .unwrap();
    let dead = Receiver::start(u32::MAX).await;
    let (dead_id, dead_secret) = endpoint(&rig.api, &dead.url(), &["call.status"]).await;
    dead.set_secret(&dead_secret);
    let alive = Receiver::start(0).await;
    let (alive_id, alive_secret) = endpoint(&rig.api, &alive.url(), &["call.status"]).await;
    alive.set_secret(&alive_secret);
    rig.twilio.register_callee(&number(0), CalleeScript::busy());
    rig.start_campaign(vec![contact(0)], json!({"maxAttempts": 1}))
        .await
        .unwrap();
    // The live endpoint gets every status while the dead one is still failing.
    drive_until(
        &rig,
        chrono::Duration::seconds(1),
        Duration::from_secs(20),
        || {
            alive
                .accepted()
                .iter()
                .any(|e| e["data"]["status"] == "ended")
        },
    )
    .await;
    assert!(dead.total_attempts() >= 1);
    let _ = alive_id;
    // A day and a bit later every delivery to the dead endpoint is `failed`, after
    // retries whose waits doubled up to an hour.
    let failed = || async {
        rig.get(&format!(
            "/api/v1/webhook-endpoints/{dead_id}/deliveries?state=pending"
        ))
        .await
        .unwrap()["total"]
            == 0
    };
    let started = std::time::Instant::now();
    while !failed().await {
        assert!(started.elapsed() < Duration::from_secs(30), "still pending");
        rig.clock.advance(chrono::Duration::minutes(30));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let log = rig
        .get(&format!(
            "/api/v1/webhook-endpoints/{dead_id}/deliveries?state=failed"
        ))
        .await
        .unwrap();
    assert!(log["total"].as_i64().unwrap() >= 2);
    let attempts: Vec<i64> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["attempts"].as_i64().unwrap())
        .collect();
    // The first: 10 s doubling to the 1 h cap, then hourly: some 30 tries in 24 h, not
    // thousands. The later events of the call waited behind it and share its window.
    let first = *attempts.last().unwrap();
    assert!((15..=40).contains(&first), "{attempts:?}");
    assert!(
        attempts[..attempts.len() - 1].iter().all(|n| *n <= 2),
        "{attempts:?}"
    );
    assert_eq!(log["data"][0]["lastStatus"], 500);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_campaigns_lifecycle_arrives_in_order(db: PgPool) {
    let rig = Rig::start_with(db, tuesday_morning(), quick_webhooks)
        .await
        .unwrap();
    let receiver = Receiver::start(1).await;
    let types = [
        "campaign.started",
        "campaign.paused",
        "campaign.stopped",
        "campaign.completed",
    ];
    let (_, secret) = endpoint(&rig.api, &receiver.url(), &types).await;
    receiver.set_secret(&secret);
    rig.twilio
        .register_callee(&number(0), CalleeScript::answer());
    let campaign = rig
        .start_campaign(vec![contact(0)], json!({}))
        .await
        .unwrap();
    for action in ["pause", "resume", "stop"] {
        rig.post(&format!("/api/v1/campaigns/{campaign}/{action}"), json!({}))
            .await
            .unwrap();
    }
    drive_until(
        &rig,
        chrono::Duration::seconds(20),
        Duration::from_secs(10),
        || receiver.accepted().len() == 4,
    )
    .await;
    let seen: Vec<(String, String)> = receiver
        .accepted()
        .iter()
        .map(|e| {
            assert_eq!(e["data"]["campaignId"], campaign.as_str());
            (
                e["type"].as_str().unwrap().to_string(),
                e["data"]["previousStatus"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("campaign.started", "draft"),
        ("campaign.paused", "running"),
        ("campaign.started", "paused"),
        ("campaign.stopped", "running"),
    ];
    assert_eq!(
        seen,
        expected
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .to_vec()
    );
}
