//! A whole `livekit_sip` campaign through livekit-server and livekit-sip: four contacts
//! behind one trunk (a [`SipRouter`] sends each number to its callee): one talks, one is
//! busy, one never answers, one is an answering machine. Each call ends with the right
//! result; the answered ones have transcripts (decoded from the room's audio), a stereo
//! recording as long as the call with each side's words on its channel (decoded from the
//! WAV), an outcome, and a cost broken down by provider.

use futures::FutureExt;
use outbound_tests::livekit::phone::{Phone, PhoneScript};
use outbound_tests::livekit::recording::{decode_all, Recording};
use outbound_tests::livekit::{Callee, Scenario, SipRouter};
use outbound_tests::rig::livekit::LiveKitRig;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::conversation::transcript;

const TALKS: &str = "+12123000001";
const BUSY: &str = "+12123000002";
const SILENT: &str = "+12123000003";
const MACHINE: &str = "+12123000004";
const GREETING: &str = "You have reached Sam. Please leave a message after the tone.";

fn contact(phone: &str, i: u32) -> Value {
    json!({"phone": phone, "name": format!("Contact {i}"), "timezone": "America/New_York"})
}

fn call_to<'a>(calls: &'a [Value], phone: &str) -> &'a Value {
    calls
        .iter()
        .find(|c| c["to"] == phone)
        .unwrap_or_else(|| panic!("no call to {phone}: {calls:#?}"))
}

/// The call's recording: one, stereo at 8 kHz, with each channel's speech decoded. It
/// runs from the answer to the end, so it is as long as what the phone heard last (timed
/// from its answer) and ends within a few seconds of it. (The call's own `answeredAt` and
/// `endedAt` are on the rig's manual clock, which races ahead of real time.)
async fn recording(
    rig: &LiveKitRig,
    call: &Value,
    heard_until_ms: u64,
) -> (Vec<String>, Vec<String>) {
    let id = call["id"].as_str().unwrap();
    let recordings = Recording::of_call(rig, id).await.unwrap();
    assert_eq!(recordings.len(), 1, "{call}");
    let recording = &recordings[0];
    assert_eq!(recording.meta["channels"], 2, "{}", recording.meta);
    assert_eq!((recording.rate, recording.channels), (8000, 2));
    let length = recording.duration_ms();
    eprintln!("call {id}: recording {length} ms, last heard at {heard_until_ms} ms");
    assert!(
        length + 1000 >= heard_until_ms && length <= heard_until_ms + 5000,
        "a {length} ms recording of a call whose phone heard the agent until {heard_until_ms} ms"
    );
    (
        decode_all(&recording.left, 8000),
        decode_all(&recording.right, 8000),
    )
}

fn assert_costed(call: &Value) {
    assert!(call["costCents"].as_f64().unwrap_or(0.0) > 0.0, "{call}");
    for kind in ["stt", "llm", "tts"] {
        assert!(
            call["costBreakdown"][kind].is_object(),
            "{kind}: {}",
            call["costBreakdown"]
        );
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_campaign_of_talk_busy_no_answer_and_voicemail_callees_ends_with_the_right_records(
    db: PgPool,
) {
    let rig = LiveKitRig::start(db, LiveKitRig::now(), 10).await.unwrap();
    let _worker = rig.worker().await;
    let talker = Phone::start(
        PhoneScript::answer_after(300)
            .reply(300, "my code is token-17")
            .reply(300, "thanks goodbye"),
    )
    .await
    .unwrap();
    let machine = Phone::start(PhoneScript::voicemail(300, GREETING))
        .await
        .unwrap();
    let busy = Callee::start(Scenario::Busy).await.unwrap();
    let silent = Callee::start(Scenario::NoAnswer).await.unwrap();
    let router = SipRouter::start(&[
        (TALKS, talker.port),
        (BUSY, busy.port),
        (SILENT, silent.port),
        (MACHINE, machine.port),
    ])
    .await
    .unwrap();
    let contacts = vec![
        contact(TALKS, 1),
        contact(BUSY, 2),
        contact(SILENT, 3),
        contact(MACHINE, 4),
    ];
    let campaign = rig
        .campaign_to_port(router.port, contacts, json!({"maxAttempts": 1}))
        .await
        .unwrap();
    rig.drive_until(1, 1500, "the campaign completed", |rig| {
        let campaign = campaign.clone();
        async move { rig.campaign_status(&campaign).await.unwrap_or_default() == "completed" }
            .boxed()
    })
    .await;
    let calls = rig.calls(&campaign).await.unwrap();
    eprintln!("{calls:#?}");
    assert_eq!(calls.len(), 4, "one dial per contact");

    // Results, as the attempts record them.
    let attempts = rig.attempts(&campaign).await.unwrap();
    let result_of = |phone: &str| {
        let call = call_to(&calls, phone);
        attempts
            .iter()
            .find(|a| a["lastCallId"] == call["id"])
            .map(|a| a["lastResult"].clone())
            .unwrap_or_else(|| panic!("no attempt for {phone}: {attempts:#?}"))
    };
    assert_eq!(result_of(TALKS), "answered");
    assert_eq!(result_of(BUSY), "busy");
    assert_eq!(result_of(SILENT), "no_answer");
    // livekit-sip has no carrier AMD: the agent told the machine by its greeting, and that
    // decision settles the attempt (the campaign's voicemail retry applies).
    assert_eq!(result_of(MACHINE), "voicemail");
    assert_eq!(call_to(&calls, MACHINE)["answeredBy"], "machine_agent");
    assert_eq!(call_to(&calls, BUSY)["status"], "busy");
    assert_eq!(call_to(&calls, SILENT)["status"], "no_answer");
    assert_eq!((busy.invites(), silent.invites()), (1, 1));
    for phone in [BUSY, SILENT] {
        let call = call_to(&calls, phone);
        assert!(call["answeredAt"].is_null(), "{call}");
        let id = call["id"].as_str().unwrap();
        assert!(Recording::of_call(&rig, id).await.unwrap().is_empty());
        assert!(transcript(&rig, call).await.is_empty(), "{call}");
    }

    // The talker: a conversation heard at both ends, recorded and costed.
    let call = call_to(&calls, TALKS);
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["endReason"], "agent_ended", "{call}");
    let heard = talker.report().heard_texts();
    assert!(heard.iter().any(|h| h.contains("token-17")), "{heard:?}");
    let lines = transcript(&rig, call).await;
    assert!(
        lines.contains(&("callee".into(), "my code is token-17".into())),
        "{lines:?}"
    );
    let first = lines.iter().find(|(who, _)| who == "agent").map(|(_, t)| t);
    assert_eq!(first, heard.first(), "{lines:?}");
    let until = talker.report().heard.last().map_or(0, |h| h.at_ms);
    let (left, right) = recording(&rig, call, until).await;
    assert!(left.iter().any(|t| t == "my code is token-17"), "{left:?}");
    assert!(
        left.iter().all(|t| !t.starts_with("Hi Contact")),
        "{left:?}"
    );
    assert_eq!(right.first(), heard.first(), "{right:?}");
    assert!(right.iter().any(|t| t.contains("token-17")), "{right:?}");
    assert_costed(call);

    // The machine: its greeting told the agent it was one; the message was left on it.
    let call = call_to(&calls, MACHINE);
    assert_eq!(call["outcome"], "voicemail", "{call}");
    assert_eq!(call["endReason"], "voicemail", "{call}");
    let heard = machine.report().heard_texts();
    assert!(
        heard.iter().any(|t| t == "Please call us back."),
        "{heard:?}"
    );
    let until = machine.report().heard.last().map_or(0, |h| h.at_ms);
    let (left, right) = recording(&rig, call, until).await;
    assert!(left.iter().any(|t| t == GREETING), "{left:?}");
    assert!(
        right.iter().any(|t| t == "Please call us back."),
        "{right:?}"
    );
    assert!(call["costCents"].as_f64().unwrap_or(0.0) > 0.0, "{call}");
    assert!(call["costBreakdown"]["stt"].is_object(), "{call}");
}
