//! Taking a call over: the supervisor's voice reaches the callee, the callee's reaches
//! the supervisor, the agent is silent, and it resumes after the hand-back.

use crate::listener::Listener;
use crate::{audit, control, dial, ear_story, number, rig, wait_to_hear};
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_supervisor_takes_the_call_over_and_hands_it_back_to_the_agent(db: PgPool) {
    let _slot = crate::slot().await;
    let rig = rig(db).await;
    let call = dial(
        &rig,
        &number(2),
        CalleeScript::answer_after(200)
            .reply(800, "are you there token-66")
            .reply(300, "back to you token-77"),
    )
    .await;
    let mut listener = Listener::connect(&rig, &call.id).await;
    let result = listener.control(json!({"action": "takeOver"})).await;
    assert_eq!(result["ok"], true, "{result}");
    // Say is refused while the call is taken over: the agent is silent.
    let (status, _) = rig
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/calls/{}/control", call.id),
            Some(json!({"action": "say", "text": "not now"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 409);
    // The other controls work on the listen stream too (off its relay's loop).
    let result = listener
        .control(json!({"action": "whisper", "text": "the callee sounds busy"}))
        .await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["action"], "whisper", "{result}");

    listener.speak("supervisor here token-55").await;
    wait_to_hear(&rig, &call, "supervisor here token-55").await;
    listener.wait_for_callee("are you there token-66").await;
    // The agent kept quiet: the model was never asked about what the callee said.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let llm = rig.providers.report().llm;
    assert!(
        !llm.iter().any(|r| r
            .last_user_text
            .as_deref()
            .is_some_and(|t| t.contains("token-66"))),
        "the agent answered during the take-over"
    );

    listener.speak("handing you back token-56").await;
    let result = listener.control(json!({"action": "handBack"})).await;
    assert_eq!(result["ok"], true, "{result}");
    // The agent answers the callee's next words again.
    rig.twilio
        .wait_until(
            &call.sid,
            Duration::from_secs(30),
            "the agent's answer",
            |r| r.heard_texts().iter().any(|h| h.contains("token-77")),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", ear_story(&rig, &call)));
    wait_to_hear(&rig, &call, "handing you back token-56").await;
    let heard = listener.close().await;
    control(&rig, &call, json!({"action": "end"})).await;
    rig.twilio
        .wait_for_call_end(&call.sid, Duration::from_secs(20))
        .await
        .unwrap();

    // The supervisor's voice went out on the right channel, as the callee heard it.
    let right = heard.lock().unwrap().right.clone();
    assert!(
        right.contains(&"supervisor here token-55".to_string()),
        "{right:?}"
    );
    let actions = audit(&rig, &call).await;
    let names: Vec<(String, bool)> = actions
        .iter()
        .map(|a| (a["action"].as_str().unwrap().to_string(), a["ok"] == true))
        .collect();
    for expected in [
        "listen_started",
        "take_over",
        "whisper",
        "hand_back",
        "listen_ended",
        "end",
    ] {
        assert!(
            names.contains(&(expected.to_string(), true)),
            "{expected} not in {names:?}"
        );
    }
    assert!(names.contains(&("say".to_string(), false)), "{names:?}");
}
