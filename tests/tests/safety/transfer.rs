//! The transfer tool: the callee asks for a person, the real agent worker's LLM (the
//! emulator) calls `transfer_call`, the control plane redirects the live Twilio call to
//! `<Dial>` the assistant's transfer number, and the emulated phone network shows the
//! leg to that number after the callee heard the hand-over sentence.

use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;

use crate::{any_hour, contact, finished_calls};

const TARGET: &str = "+14155550100";

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_callee_who_asks_for_a_person_is_moved_to_the_transfer_number(db: PgPool) {
    let _slot = crate::voice_slot().await;
    let rig = VoiceRig::start(db, VoiceOptions::default()).await.unwrap();
    let phone = "+12123007001";
    rig.twilio.register_callee(
        phone,
        CalleeScript::answer_after(200).reply(300, "can I talk to a real person"),
    );
    let assistant = json!({"name": "Ava", "systemPrompt": "You are Ava from Acme.",
        "firstMessage": "Hi, this is Ava, an AI assistant from Acme.", "maxDurationSec": 60,
        "tools": {"endCall": true, "transferTo": TARGET}});
    let campaign = rig
        .start_campaign_with(vec![contact(phone)], assistant, any_hour(json!({})))
        .await
        .unwrap();
    let calls = finished_calls(&rig, &campaign).await;
    let call = &calls[0];

    let report = rig
        .twilio
        .call(call["providerCallId"].as_str().unwrap())
        .unwrap();
    let legs: Vec<&str> = report.transfers.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(legs, [TARGET], "the legs Twilio dialed: {:?}", report.twiml);
    // The redirect replaced the stream's TwiML with a <Dial> to the target.
    let last = report.twiml.last().unwrap();
    assert!(last.contains("<Dial") && last.contains(TARGET), "{last}");
    // The callee heard the hand-over before the leg was dialed.
    let heard = report.heard_texts();
    assert!(
        heard.iter().any(|h| h.contains("transfer you")),
        "{heard:?}"
    );
    assert_eq!(call["endReason"], "transferred", "{call}");
    // The worker offered the tool and the model called it.
    let llm = rig.providers.report().llm;
    assert!(
        llm.iter()
            .any(|r| r.tool_calls.iter().any(|c| c.name == "transfer_call")),
        "no transfer_call in the LLM's replies"
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn without_a_transfer_number_the_agent_is_not_offered_the_tool_and_nothing_is_dialed(
    db: PgPool,
) {
    let _slot = crate::voice_slot().await;
    let rig = VoiceRig::start(db, VoiceOptions::default()).await.unwrap();
    let phone = "+12123007002";
    rig.twilio.register_callee(
        phone,
        CalleeScript::answer_after(200)
            .reply(300, "can I talk to a real person")
            .reply(300, "okay goodbye"),
    );
    let assistant = json!({"name": "Ava", "systemPrompt": "You are Ava from Acme.",
        "firstMessage": "Hi, this is Ava, an AI assistant from Acme.", "maxDurationSec": 60,
        "tools": {"endCall": true}});
    let campaign = rig
        .start_campaign_with(vec![contact(phone)], assistant, any_hour(json!({})))
        .await
        .unwrap();
    let calls = finished_calls(&rig, &campaign).await;
    let report = rig
        .twilio
        .call(calls[0]["providerCallId"].as_str().unwrap())
        .unwrap();
    assert!(report.transfers.is_empty(), "{:?}", report.transfers);
    let llm = rig.providers.report().llm;
    assert!(!llm.is_empty());
    assert!(llm
        .iter()
        .all(|r| !r.tools_offered.iter().any(|t| t == "transfer_call")));
    assert_ne!(calls[0]["endReason"], "transferred");
}
