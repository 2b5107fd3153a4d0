//! An answering machine, told apart by its greeting (Twilio AMD is off): the agent stops,
//! waits for the beep and leaves the assistant's voicemail message. With Twilio's AMD on,
//! the control plane hangs up on the machine and the call still ends as `voicemail`.

use crate::{assistant, call_to, number, run_campaign_with, run_one};
use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_voicemail_greeting_gets_the_voicemail_message(db: PgPool) {
    let _slot = crate::slot(1).await;
    let rig = VoiceRig::start(db, VoiceOptions::default()).await.unwrap();
    let phone = number(20);
    let greeting = "You have reached Sam. Please leave a message after the tone.";
    let (call, report) =
        run_one(&rig, &phone, CalleeScript::voicemail(greeting), assistant()).await;
    assert_eq!(call["outcome"], "voicemail", "{call}");
    assert_eq!(call["endReason"], "voicemail", "{call}");
    let heard = report.heard_texts();
    assert!(
        heard
            .iter()
            .any(|t| t == "Sorry we missed you. Please call Acme back."),
        "the machine did not record the message: {heard:?}"
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_machine_twilio_detects_is_hung_up_and_ends_as_voicemail(db: PgPool) {
    let _slot = crate::slot(1).await;
    let rig = VoiceRig::start(db, VoiceOptions::default()).await.unwrap();
    let phone = number(21);
    let greeting = "You have reached Sam. Please leave a message after the tone.";
    rig.twilio
        .register_callee(&phone, CalleeScript::voicemail(greeting));
    let calls = run_campaign_with(
        &rig,
        std::slice::from_ref(&phone),
        assistant(),
        json!({"amd": {"enabled": true, "timeoutSec": 10}, "voicemail": {"action": "hangup"}}),
    )
    .await;
    let call = call_to(&calls, &phone);
    assert_eq!(call["outcome"], "voicemail", "{call}");
    // The worker saw the line drop when we hung up; the reason is still the machine.
    assert_eq!(call["endReason"], "voicemail", "{call}");
}
