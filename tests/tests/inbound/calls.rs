//! Calls to our number through the Twilio emulator, answered by the real agent worker (or
//! by Twilio alone when the assistant cannot take them).

use crate::{inbound_calls, setup, slot, wait_for, CALLER, OURS};
use chrono::Datelike;
use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_inbound_caller_holds_a_conversation_with_the_assistant_and_gets_its_text(db: PgPool) {
    let _slot = slot().await;
    let rig = VoiceRig::start(db, VoiceOptions::default()).await.unwrap();
    let made = setup(&rig.api, &rig.twilio, json!({})).await;

    let sid = rig
        .twilio
        .place_inbound_call(
            CALLER,
            OURS,
            CalleeScript::answer()
                .reply(300, "my code is token-17")
                .reply(300, "please text me the details")
                .reply(300, "thanks goodbye"),
        )
        .unwrap();
    let report = rig
        .twilio
        .wait_for_call_end(&sid, Duration::from_secs(60))
        .await
        .unwrap();
    // The voice webhook was asked as Twilio asks it, and answered with a stream.
    let first = &report.callbacks[0];
    assert_eq!(first.param("Direction"), Some("inbound"));
    assert_eq!(first.param("CallStatus"), Some("ringing"));
    assert!(
        report.twiml[0].contains("<Connect><Stream"),
        "{:?}",
        report.twiml
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
        heard.iter().any(|h| h.contains("token-17")),
        "the caller never heard its token echoed: {heard:?}"
    );
    assert!(
        heard.last().unwrap().to_lowercase().contains("goodbye"),
        "{heard:?}"
    );
    assert_eq!(
        report.ended_by.as_deref(),
        Some("twiml"),
        "the agent ends the call"
    );

    // A call record like any other: inbound, with the contact, transcript, cost, latency,
    // recording, ended by the number's status callback.
    let calls = wait_for(
        &rig.api,
        "/api/v1/calls?perPage=100",
        "the call's last reports",
        |page| {
            page["data"].as_array().is_some_and(|calls| {
                calls.iter().any(|c| {
                    c["direction"] == "inbound"
                        && c["status"] == "completed"
                        && !c["endReason"].is_null()
                        && c["costCents"].as_f64().unwrap_or(0.0) > 0.0
                })
            })
        },
    )
    .await;
    let call = &calls["data"][0];
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["from"], CALLER);
    assert_eq!(call["to"], OURS);
    assert_eq!(call["providerCallId"], sid.as_str());
    assert_eq!(call["contactId"], made.contact_id.as_str());
    assert_eq!(call["variables"]["code"], "bk-42");
    assert_eq!(call["endReason"], "agent_ended");
    assert!(
        !call["latency"]["turns"].as_array().unwrap().is_empty(),
        "{call}"
    );
    let id = call["id"].as_str().unwrap();
    let transcript = rig
        .get(&format!("/api/v1/calls/{id}/transcript"))
        .await
        .unwrap();
    let lines: Vec<(String, String)> = transcript["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["speaker"].as_str().unwrap().into(),
                e["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        lines.contains(&("callee".into(), "my code is token-17".into())),
        "{lines:?}"
    );
    let recordings = wait_for(
        &rig.api,
        &format!("/api/v1/calls/{id}/recordings"),
        "the recording",
        |r| r["data"].as_array().is_some_and(|d| !d.is_empty()),
    )
    .await;
    assert_eq!(recordings["data"][0]["channels"], 2);

    // The agent's send_sms: the assistant's text, filled from the contact, sent from our
    // number to the caller through Twilio's Messages resource, and delivered.
    let messages = wait_for(
        &rig.api,
        "/api/v1/messages",
        "the text to be delivered",
        |page| page["data"][0]["status"] == "delivered",
    )
    .await;
    let text = &messages["data"][0];
    assert_eq!(text["direction"], "outbound");
    assert_eq!(text["to"], CALLER);
    assert_eq!(text["from"], OURS);
    assert_eq!(text["body"], "Hi Dana, your booking code is bk-42.");
    assert_eq!(text["callId"], id);
    assert_eq!(text["contactId"], made.contact_id.as_str());
    let at_twilio = rig.twilio.messages();
    let sent = at_twilio
        .iter()
        .find(|m| m.direction == "outbound-api")
        .unwrap();
    assert_eq!(sent.body, "Hi Dana, your booking code is bk-42.");
    assert_eq!(
        sent.callbacks,
        [
            ("sent".to_string(), Some(204)),
            ("delivered".to_string(), Some(204))
        ]
    );
    // The contact's history shows the call and the text.
    let history = rig
        .get(&format!("/api/v1/contacts/{}/calls", made.contact_id))
        .await
        .unwrap();
    assert_eq!(history["data"][0]["direction"], "inbound");
    let texts = rig
        .get(&format!("/api/v1/contacts/{}/messages", made.contact_id))
        .await
        .unwrap();
    assert_eq!(texts["total"], 1);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn with_no_worker_free_the_caller_hears_the_configured_message(db: PgPool) {
    let _slot = slot().await;
    // A worker with no call slots: registered and alive, but never free.
    let options = VoiceOptions {
        worker: Box::new(|config| config.server.max_calls = 0),
        ..VoiceOptions::default()
    };
    let rig = VoiceRig::start(db, options).await.unwrap();
    setup(
        &rig.api,
        &rig.twilio,
        json!({"noWorker": {"action": "message", "message": "Sorry, everyone is busy."}}),
    )
    .await;
    let sid = rig
        .twilio
        .place_inbound_call(CALLER, OURS, CalleeScript::answer().say(0, "hello"))
        .unwrap();
    let report = rig
        .twilio
        .wait_for_call_end(&sid, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(report.twiml_audio, ["say:Sorry, everyone is busy."]);
    assert!(report.streams.is_empty(), "no stream without a free worker");
    let call = wait_for(&rig.api, "/api/v1/calls", "the call to end", |page| {
        page["data"][0]["status"] == "completed"
    })
    .await["data"][0]
        .clone();
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["endReason"], "no_worker");
    assert!(call["assistantId"].is_null());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn outside_business_hours_the_caller_leaves_a_voicemail_that_is_transcribed(db: PgPool) {
    let _slot = slot().await;
    let rig = VoiceRig::start(db, VoiceOptions::default()).await.unwrap();
    // Open every day but today (in UTC), all day: closed now.
    let today = chrono::Utc::now().weekday().num_days_from_monday() as usize;
    let days: Vec<&str> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != today)
        .map(|(_, d)| *d)
        .collect();
    setup(
        &rig.api,
        &rig.twilio,
        json!({"businessHours": {"timezone": "UTC", "days": days, "openHour": 0, "closeHour": 24},
               "afterHours": {"action": "voicemail", "message": "We are closed. Leave a message."}}),
    )
    .await;
    let sid = rig
        .twilio
        .place_inbound_call(
            CALLER,
            OURS,
            CalleeScript::answer().say(0, "please call me back about invoice-9"),
        )
        .unwrap();
    let report = rig
        .twilio
        .wait_for_call_end(&sid, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(
        report.twiml_audio,
        [
            "say:We are closed. Leave a message.",
            "record:please call me back about invoice-9"
        ]
    );
    assert!(report.streams.is_empty());
    let calls = inbound_calls(&rig.api).await;
    let id = calls[0]["id"].as_str().unwrap().to_string();
    let transcript = wait_for(
        &rig.api,
        &format!("/api/v1/calls/{id}/transcript"),
        "the voicemail's transcription",
        |t| t["entries"].as_array().is_some_and(|e| !e.is_empty()),
    )
    .await;
    assert_eq!(transcript["entries"][0]["speaker"], "callee");
    assert_eq!(
        transcript["entries"][0]["text"],
        "please call me back about invoice-9"
    );
    let recordings = wait_for(
        &rig.api,
        &format!("/api/v1/calls/{id}/recordings"),
        "the recording",
        |r| r["data"].as_array().is_some_and(|d| !d.is_empty()),
    )
    .await;
    assert!(recordings["data"][0]["location"]
        .as_str()
        .unwrap()
        .contains("/Recordings/RE"));
    // The recording status callback (issue 18) is the only writer of this row: its URL
    // and its duration are the ones Twilio posted there.
    let after = rig.twilio.call(&sid).unwrap();
    let posted = after
        .callbacks
        .iter()
        .find(|c| c.url.contains("/webhooks/twilio/recording") && c.response_status == Some(204))
        .expect("the recording status callback, answered 204");
    let url = posted.param("RecordingUrl").unwrap();
    assert_eq!(recordings["data"][0]["location"], format!("{url}.wav"));
    let seconds: f64 = posted.param("RecordingDuration").unwrap().parse().unwrap();
    assert!(seconds > 0.0, "{seconds}");
    assert_eq!(recordings["data"][0]["durationSec"], seconds);
    let call = rig.get(&format!("/api/v1/calls/{id}")).await.unwrap();
    assert_eq!(call["outcome"], "voicemail");
    assert_eq!(call["endReason"], "after_hours");
    assert_eq!(call["status"], "completed");
}
