//! Inbound calls through LiveKit SIP (issue 19, item 3): our SIP phone calls one of our
//! numbers at livekit-sip; the number's inbound trunk and dispatch rule put the caller in
//! a room of its own; the control plane, told by LiveKit's webhook, records the call and
//! dispatches the agent worker into that room. The phone and the agent talk in test
//! speech code, decoded at both ends. Outside business hours, and with no worker to take
//! the job, the caller is hung up on and the call recorded with the reason.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use outbound_tests::livekit::phone::{CallingPhone, Dial, PhoneReport, PhoneScript};
use outbound_tests::rig::livekit::LiveKitRig;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::conversation::transcript;

/// Our number, on the rig's `livekit_sip` trunk.
const OURS: &str = "+12125550100";
/// The caller, a contact of the organization.
const CALLER: &str = "+12123000001";

/// An assistant, a `livekit_sip` trunk holding our number, the caller as a contact
/// ("Dana", variable `code`), and our number answered by the assistant (`number` merged
/// over the body). Returns the number and the contact's id.
async fn setup(rig: &LiveKitRig, number: Value) -> (Value, String) {
    let assistant = rig
        .post(
            "/api/v1/assistants",
            json!({"name": "Ava", "systemPrompt": "You are Ava from Acme. {{name}} called.",
                   "firstMessage": "Hi {{name}}, thanks for calling Acme. This is Ava, an AI assistant.",
                   "maxDurationSec": 60, "tools": {"endCall": true}}),
        )
        .await
        .unwrap();
    let trunk = rig
        .post(
            "/api/v1/trunks",
            json!({"name": "SIP", "provider": "other", "mode": "livekit_sip",
                   "numbers": [OURS], "address": "127.0.0.1:5999"}),
        )
        .await
        .unwrap();
    let list = rig
        .post("/api/v1/contact-lists", json!({"name": "Customers"}))
        .await
        .unwrap();
    let list_id = list["id"].as_str().unwrap();
    let imported = rig
        .post(
            &format!("/api/v1/contact-lists/{list_id}/contacts"),
            json!({"contacts": [{"phone": CALLER, "name": "Dana",
                   "timezone": "America/New_York", "variables": {"code": "bk-42"}}]}),
        )
        .await
        .unwrap();
    assert_eq!(imported["rejected"], 0, "{imported}");
    let contacts = rig
        .get(&format!("/api/v1/contact-lists/{list_id}/contacts"))
        .await
        .unwrap();
    let contact_id = contacts["data"][0]["id"].as_str().unwrap().to_string();
    let mut body = json!({"number": OURS, "trunkId": trunk["id"], "assistantId": assistant["id"]});
    if let (Some(body), Some(over)) = (body.as_object_mut(), number.as_object()) {
        body.extend(over.clone());
    }
    let number = rig.post("/api/v1/numbers", body).await.unwrap();
    assert!(
        number["livekitDispatchRuleId"].is_string(),
        "the number has its LiveKit side: {number}"
    );
    (number, contact_id)
}

/// livekit-sip's SIP address.
fn livekit_sip(rig: &LiveKitRig) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], rig.sip.sip_port))
}

/// Calls our number from the caller's number with `script`.
async fn call_ours(rig: &LiveKitRig, script: PhoneScript) -> CallingPhone {
    let dial = Dial {
        to_addr: livekit_sip(rig),
        to: OURS.into(),
        from: CALLER.into(),
    };
    CallingPhone::dial(dial, script).await.unwrap()
}

/// Waits (real time, `limit` at most) until the phone's call is over at its end.
async fn wait_for_end(rig: &LiveKitRig, phone: &CallingPhone, limit: Duration) -> PhoneReport {
    let started = Instant::now();
    loop {
        let report = phone.report();
        let refused = phone.outcome().status.is_some_and(|s| s >= 300);
        if report.ended_by.is_some() || refused {
            return report;
        }
        assert!(
            started.elapsed() < limit,
            "the call never ended: {report:#?} {:?}\nlivekit-sip:\n{}",
            phone.outcome(),
            rig.sip.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The far end ended the call: a BYE after livekit-sip's 200, or (the room deleted
/// before livekit-sip answered) an error as its final answer. Never the caller itself.
fn hung_up_on(phone: &CallingPhone, report: &PhoneReport) {
    let outcome = phone.outcome();
    eprintln!(
        "the caller was hung up on: {outcome:?}, ended by {:?}",
        report.ended_by
    );
    let refused = outcome.status.is_some_and(|s| s >= 300);
    assert!(
        report.ended_by.as_deref() == Some("caller") || refused,
        "{report:#?} {outcome:?}"
    );
}

/// The organization's only inbound call, once `done` holds for it (10 s at most).
async fn inbound_call(rig: &LiveKitRig, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let page = rig.get("/api/v1/calls?perPage=100").await.unwrap();
        let calls: Vec<Value> = page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["direction"] == "inbound")
            .cloned()
            .collect();
        assert!(calls.len() <= 1, "one call, one record: {calls:#?}");
        if let Some(call) = calls.first().filter(|c| done(c)) {
            return call.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}: {calls:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_sip_caller_reaches_the_assistant_through_livekit_and_they_talk(db: PgPool) {
    let rig = LiveKitRig::start(db, LiveKitRig::now(), 10).await.unwrap();
    let _worker = rig.worker().await;
    let (number, contact_id) = setup(&rig, json!({})).await;
    let phone = call_ours(
        &rig,
        PhoneScript::default()
            .reply(300, "my code is token-23")
            .reply(300, "thanks goodbye"),
    )
    .await;
    let report = wait_for_end(&rig, &phone, Duration::from_secs(60)).await;
    eprintln!("the caller: {report:#?} {:?}", phone.outcome());

    // The SIP dialog: progress, then livekit-sip's 200, and the agent hung up at the end.
    let outcome = phone.outcome();
    assert_eq!(outcome.status, Some(200), "{outcome:?}");
    assert!(report.answered);
    assert_eq!(
        report.ended_by.as_deref(),
        Some("caller"),
        "the agent hangs up"
    );
    // The caller's number found the contact: its name fills the first message.
    let heard = report.heard_texts();
    assert!(
        heard
            .first()
            .is_some_and(|h| h.starts_with("Hi Dana, thanks for calling Acme.")),
        "{heard:?}"
    );
    assert!(
        heard.iter().any(|h| h.contains("token-23")),
        "the caller never heard its token echoed: {heard:?}"
    );
    let first_audio = report.first_audio_ms.expect("the agent was heard");
    eprintln!("first agent audio at the caller's ear: {first_audio} ms after the 200 OK");

    // A call record like any other: inbound on LiveKit, the contact, the transcript with
    // the caller's words as the STT emulator decoded them from the room's audio.
    let call = inbound_call(&rig, "the call to complete", |c| {
        c["status"] == "completed" && !c["endReason"].is_null()
    })
    .await;
    assert_eq!(call["mode"], "livekit_sip", "{call}");
    assert_eq!(call["from"], CALLER, "{call}");
    assert_eq!(call["to"], OURS, "{call}");
    assert_eq!(call["contactId"], contact_id.as_str(), "{call}");
    assert_eq!(call["variables"]["code"], "bk-42", "{call}");
    assert_eq!(call["endReason"], "agent_ended", "{call}");
    assert!(
        call["providerCallId"]
            .as_str()
            .is_some_and(|room| room.starts_with("inbound-")),
        "the caller's room is the call's provider id: {call}"
    );
    assert!(
        !call["latency"]["turns"].as_array().unwrap().is_empty(),
        "{call}"
    );
    let lines = transcript(&rig, &call).await;
    assert!(
        lines.contains(&("callee".into(), "my code is token-23".into())),
        "{lines:?}"
    );
    let first_agent = lines.iter().find(|(who, _)| who == "agent").map(|(_, t)| t);
    assert_eq!(first_agent, Some(&heard[0]), "{lines:?}");
    // The room is gone once the call is over.
    let room = call["providerCallId"].as_str().unwrap();
    let started = Instant::now();
    while rig
        .livekit
        .room_names()
        .await
        .unwrap()
        .iter()
        .any(|r| r == room)
    {
        assert!(started.elapsed() < Duration::from_secs(10), "{room} stays");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(number["assistantId"], call["assistantId"], "{call}");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn outside_business_hours_a_livekit_caller_is_recorded_and_hung_up_on(db: PgPool) {
    let rig = LiveKitRig::start(db, LiveKitRig::now(), 10).await.unwrap();
    // Open 00:00-01:00 UTC only: the rig's clock says 15:00.
    let (_, contact_id) = setup(
        &rig,
        json!({"businessHours": {"timezone": "UTC",
               "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
               "openHour": 0, "closeHour": 1}}),
    )
    .await;
    let phone = call_ours(&rig, PhoneScript::default()).await;
    let report = wait_for_end(&rig, &phone, Duration::from_secs(20)).await;
    hung_up_on(&phone, &report);
    assert!(report.heard.is_empty(), "nobody spoke: {report:#?}");
    let call = inbound_call(&rig, "the call to complete", |c| c["status"] == "completed").await;
    assert_eq!(call["endReason"], "after_hours", "{call}");
    assert_eq!(call["contactId"], contact_id.as_str(), "{call}");
    assert!(
        call["assistantId"].is_null(),
        "no assistant took it: {call}"
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn with_no_worker_to_take_it_a_livekit_caller_is_hung_up_on(db: PgPool) {
    // No worker runs; the control plane waits 1 s for one.
    let rig = LiveKitRig::start(db, LiveKitRig::now(), 1).await.unwrap();
    setup(&rig, json!({})).await;
    let phone = call_ours(&rig, PhoneScript::default()).await;
    let report = wait_for_end(&rig, &phone, Duration::from_secs(20)).await;
    hung_up_on(&phone, &report);
    let call = inbound_call(&rig, "the call to complete", |c| c["status"] == "completed").await;
    assert_eq!(call["endReason"], "no_worker", "{call}");
    assert_eq!(call["from"], CALLER, "{call}");
}
