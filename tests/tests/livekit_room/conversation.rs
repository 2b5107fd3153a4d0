//! A real conversation over LiveKit: a `livekit_sip` campaign dials our SIP phone through
//! livekit-server and livekit-sip; the agent worker joins the room before the dial, waits
//! for the answer, and talks through the provider emulators. The phone hears the first
//! message (decoded from the PCMU it receives), says a token, hears it echoed, says
//! goodbye, and the agent ends the call: completed, with the callee's words in the
//! transcript as the STT emulator decoded them from the room's Opus audio.

use futures::FutureExt;
use outbound_tests::livekit::phone::{Phone, PhoneScript};
use outbound_tests::rig::livekit::LiveKitRig;
use serde_json::{json, Value};
use sqlx::PgPool;

/// The agent's first audio at the callee's ear, after the answer, that the test accepts
/// on a loaded CI machine; the figure is printed (the target is 500 ms).
const FIRST_AUDIO_LIMIT_MS: u64 = 1500;

/// A call's statuses once it is over.
const TERMINAL: [&str; 5] = ["completed", "failed", "busy", "no_answer", "canceled"];

pub async fn transcript(rig: &LiveKitRig, call: &Value) -> Vec<(String, String)> {
    let id = call["id"].as_str().unwrap();
    let transcript = rig
        .get(&format!("/api/v1/calls/{id}/transcript"))
        .await
        .unwrap();
    transcript["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["speaker"].as_str().unwrap_or_default().to_string(),
                e["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Runs a one-contact `livekit_sip` campaign (the rig's assistant: first message "Hi
/// {{name}}", voicemail message "Please call us back.") to `phone` until its call is over;
/// returns the call.
pub async fn call_to_phone(rig: &LiveKitRig, phone: &Phone) -> Value {
    let contact = json!({"phone": "+12123000001", "name": "Contact 1",
                         "timezone": "America/New_York"});
    let campaign = rig
        .campaign_to_port(phone.port, vec![contact], json!({}))
        .await
        .unwrap();
    rig.drive_until(1, 1500, "the call ended", |rig| {
        let campaign = campaign.clone();
        async move {
            let calls = rig.calls(&campaign).await.unwrap_or_default();
            calls
                .first()
                .is_some_and(|c| TERMINAL.contains(&c["status"].as_str().unwrap_or_default()))
        }
        .boxed()
    })
    .await;
    let calls = rig.calls(&campaign).await.unwrap();
    calls[0].clone()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_sip_callee_and_the_agent_hold_a_conversation_through_livekit(db: PgPool) {
    let rig = LiveKitRig::start(db, LiveKitRig::now(), 10).await.unwrap();
    let _worker = rig.worker().await;
    let phone = Phone::start(
        PhoneScript::answer_after(300)
            .reply(300, "my code is token-17")
            .reply(300, "thanks goodbye"),
    )
    .await
    .unwrap();
    let call = call_to_phone(&rig, &phone).await;

    let report = phone.report();
    eprintln!("the phone: {report:#?}");
    assert_eq!(report.invites, 1);
    assert!(report.answered);
    let heard = report.heard_texts();
    assert!(heard.len() >= 3, "{report:#?}");
    assert!(
        heard.iter().any(|h| h.contains("token-17")),
        "the callee never heard its token echoed: {heard:?}"
    );
    assert_eq!(
        report.ended_by.as_deref(),
        Some("caller"),
        "the agent ends the call"
    );
    let first_audio = report.first_audio_ms.expect("the agent was heard");
    eprintln!("first agent audio at the callee's ear: {first_audio} ms after the answer");
    assert!(first_audio <= FIRST_AUDIO_LIMIT_MS, "{first_audio} ms");

    let call = &call;
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["endReason"], "agent_ended", "{call}");
    let lines = transcript(&rig, call).await;
    // The first thing the callee heard is the agent's first message, as the worker said it.
    let first_agent = lines.iter().find(|(who, _)| who == "agent").map(|(_, t)| t);
    assert_eq!(first_agent, Some(&heard[0]), "{lines:?}");
    assert!(
        lines.contains(&("callee".into(), "my code is token-17".into())),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(who, text)| who == "agent" && text.contains("token-17")),
        "{lines:?}"
    );
    // The reply to token-17 answered the turn that said it.
    let llm = rig.providers.report().llm;
    let echo = llm
        .iter()
        .find(|r| r.reply.contains("token-17"))
        .expect("an LLM reply echoing the token");
    assert_eq!(echo.last_user_text.as_deref(), Some("my code is token-17"));
}
