//! An answering machine, told apart by its greeting (Twilio AMD is off): the agent stops,
//! waits for the beep and leaves the assistant's voicemail message.

use crate::{assistant, number, run_one};
use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
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
