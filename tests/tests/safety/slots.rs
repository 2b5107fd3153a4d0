//! A worker's call slots are never exceeded: a real agent worker that holds at most two
//! calls (`server.max_calls`) serves a campaign of six allowed ten at once. The engine
//! counts the worker's free slots, so at most two calls are up at any moment and the
//! worker never has to refuse a stream; every callee hears the agent's audio.

use chrono::{DateTime, Utc};
use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;

use crate::{any_hour, contact, finished_calls};

const MAX_CALLS: u32 = 2;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_campaign_bigger_than_the_workers_slots_never_holds_more_calls_than_it_has(db: PgPool) {
    let _slot = crate::voice_slot().await;
    let options = VoiceOptions {
        worker: Box::new(|config| config.server.max_calls = MAX_CALLS),
        ..VoiceOptions::default()
    };
    let rig = VoiceRig::start(db, options).await.unwrap();
    let phones: Vec<String> = (0..6).map(|i| format!("+1212300{:04}", 7400 + i)).collect();
    for phone in &phones {
        // Long enough to hear the first message, short enough to free the slot soon.
        rig.twilio
            .register_callee(phone, CalleeScript::answer_after(100).hang_up_after(2500));
    }
    let campaign = rig
        .start_campaign_with(
            phones.iter().map(|p| contact(p)).collect(),
            crate::assistant(),
            any_hour(json!({"maxConcurrentCalls": 10})),
        )
        .await
        .unwrap();
    let calls = finished_calls(&rig, &campaign).await;
    assert_eq!(calls.len(), phones.len(), "{calls:?}");

    // From Twilio's side: every call got a stream the worker accepted, and no more than
    // MAX_CALLS calls were up at once (dialed until ended, ringing included).
    let reports = rig.twilio.calls();
    let mut edges: Vec<(DateTime<Utc>, i32)> = Vec::new();
    for report in &reports {
        assert_eq!(
            report.streams.len(),
            1,
            "{} {:?} {:?} {:?}",
            report.status,
            report.ended_by,
            report.twiml,
            report.callbacks.iter().map(|c| &c.url).collect::<Vec<_>>()
        );
        let end = report.streams[0].end.clone().unwrap_or_default();
        assert!(
            !end.starts_with("connect_failed"),
            "the worker refused: {end}"
        );
        // The worker took the call: its audio reached the callee.
        assert!(report.streams[0].media_received > 0, "{:?}", report.streams);
        edges.push((report.created_at, 1));
        edges.push((report.ended_at.expect("every call ended"), -1));
    }
    // At equal times an end comes before a start: a slot freed and taken in one instant.
    edges.sort();
    let (mut up, mut most) = (0, 0);
    for (_, change) in edges {
        up += change;
        most = most.max(up);
    }
    assert!(most <= MAX_CALLS as i32, "{most} calls up at once");
    assert_eq!(
        most, MAX_CALLS as i32,
        "the worker's slots were never both used"
    );
}
