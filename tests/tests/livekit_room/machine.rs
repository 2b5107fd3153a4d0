//! What else comes through the room: an answering machine's greeting (livekit-sip has no
//! carrier AMD, so the agent tells it by what it says) gets the campaign's voicemail
//! message; keys the callee presses arrive as LiveKit `SipDTMF` data packets.

use outbound_tests::livekit::phone::{Phone, PhoneScript};
use outbound_tests::rig::livekit::LiveKitRig;
use sqlx::PgPool;

use crate::conversation::{call_to_phone, transcript};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_voicemail_greeting_in_the_room_gets_the_voicemail_message(db: PgPool) {
    let rig = LiveKitRig::start(db, LiveKitRig::now(), 10).await.unwrap();
    let _worker = rig.worker().await;
    let greeting = "You have reached Sam. Please leave a message after the tone.";
    let phone = Phone::start(PhoneScript::voicemail(300, greeting))
        .await
        .unwrap();
    let call = call_to_phone(&rig, &phone).await;

    assert_eq!(call["outcome"], "voicemail", "{call}");
    assert_eq!(call["endReason"], "voicemail", "{call}");
    let report = phone.report();
    assert!(
        report
            .heard_texts()
            .iter()
            .any(|t| t == "Please call us back."),
        "the machine did not record the message: {report:#?}"
    );
    assert_eq!(report.ended_by.as_deref(), Some("caller"));
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn keys_the_callee_presses_reach_the_agent_through_the_room(db: PgPool) {
    let rig = LiveKitRig::start(db, LiveKitRig::now(), 10).await.unwrap();
    let _worker = rig.worker().await;
    let phone = Phone::start(
        PhoneScript::answer_after(300)
            .press(2500, "5")
            .then_hang_up(6000),
    )
    .await
    .unwrap();
    let call = call_to_phone(&rig, &phone).await;

    assert_eq!(call["status"], "completed", "{call}");
    // The key became the callee's turn, which the model answered.
    let llm = rig.providers.report().llm;
    assert!(
        llm.iter().any(|r| r
            .last_user_text
            .as_deref()
            .is_some_and(|t| t.contains("pressed 5"))),
        "{llm:#?}"
    );
    let lines = transcript(&rig, &call).await;
    assert!(
        lines
            .iter()
            .any(|(who, text)| who == "agent" && text.contains("you said 5")),
        "{lines:?}"
    );
    assert_eq!(phone.report().ended_by.as_deref(), Some("callee"));
}
