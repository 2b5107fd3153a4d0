//! Listening, whispering, saying and ending, and another organization refused all of it.

use crate::listener::{open, Listener};
use crate::{audit, control, dial, ear_story, ended_call, number, rig, wait_to_hear};
use outbound_tests::rig::Api;
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_supervisor_hears_both_sides_whispers_to_the_model_has_a_line_said_and_ends_the_call(
    db: PgPool,
) {
    let _slot = crate::slot().await;
    let rig = rig(db).await;
    let call = dial(
        &rig,
        &number(1),
        CalleeScript::answer_after(200)
            .reply(300, "my code is token-17")
            .reply(300, "tell me more token-18"),
    )
    .await;
    let listener = Listener::connect(&rig, &call.id).await;
    control(
        &rig,
        &call,
        json!({"action": "whisper", "text": "offer the premium plan"}),
    )
    .await;
    wait_to_hear(&rig, &call, "token-18").await;

    // Bad input is a 422 and take-over is refused off the listen stream; neither acts.
    let path = format!("/api/v1/calls/{}/control", call.id);
    for (body, status) in [
        (json!({"action": "say", "text": "  "}), 422),
        (json!({"action": "transfer", "to": "nobody"}), 422),
        (json!({"action": "dance"}), 422),
        (json!({"action": "takeOver"}), 409),
    ] {
        let (got, answer) = rig
            .request(reqwest::Method::POST, &path, Some(body.clone()))
            .await
            .unwrap();
        assert_eq!(got, status, "{body} -> {answer}");
    }

    // Another organization is refused everything, the live call included.
    let other = Api::register(&rig.base, "other-org@example.com")
        .await
        .unwrap();
    assert_eq!(open(&other, &call.id).await.err(), Some(404));
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            path.clone(),
            Some(json!({"action": "end"})),
        ),
        (
            reqwest::Method::POST,
            path.clone(),
            Some(json!({"action": "whisper", "text": "hello"})),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/calls/{}/supervision", call.id),
            None,
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/calls/{}/listen", call.id),
            None,
        ),
    ] {
        let (status, answer) = other.request(method, &path, body).await.unwrap();
        assert_eq!(status, 404, "{path} -> {answer}");
    }

    control(
        &rig,
        &call,
        json!({"action": "say", "text": "a supervisor line token-44"}),
    )
    .await;
    wait_to_hear(&rig, &call, "a supervisor line token-44").await;
    // The listen stream runs behind the ear's decoder (by up to its backlog after a stall
    // of the test's thread): end the call only once the supervisor has heard the line, or
    // its tail is cut with the stream.
    assert!(
        listener.hears_agent("a supervisor line token-44").await,
        "the supervisor never heard the said line: {}\n{}",
        listener.diagnosis(),
        ear_story(&rig, &call)
    );
    control(&rig, &call, json!({"action": "end"})).await;
    rig.twilio
        .wait_for_call_end(&call.sid, Duration::from_secs(20))
        .await
        .unwrap();
    let ended = ended_call(&rig, &call).await;
    assert_eq!(ended["endReason"], "supervisor_ended", "{ended}");

    // The listen stream: the callee on the left, our side on the right, each decodable.
    let heard = listener.close().await;
    let (odd_frames, left, right) = {
        let heard = heard.lock().unwrap();
        (heard.odd_frames, heard.left.clone(), heard.right.clone())
    };
    assert_eq!(odd_frames, 0);
    // On failure: both channels beside what the callee's ear went through.
    let story = || format!("left {left:?}\nright {right:?}\n{}", ear_story(&rig, &call));
    assert!(
        left.contains(&"my code is token-17".to_string()),
        "{}",
        story()
    );
    assert!(
        left.contains(&"tell me more token-18".to_string()),
        "{}",
        story()
    );
    assert!(right.iter().any(|u| u.contains("token-17")), "{}", story());
    assert!(
        right.contains(&"a supervisor line token-44".to_string()),
        "{}",
        story()
    );
    assert!(
        !left.iter().any(|u| u.contains("supervisor line")),
        "{left:?}"
    );
    assert!(
        !right.iter().any(|u| u == "my code is token-17"),
        "{right:?}"
    );

    // The whisper reached the model as a system message, and never the callee's ear.
    let llm = rig.providers.report().llm;
    let answer = llm
        .iter()
        .find(|r| r.last_user_text.as_deref() == Some("tell me more token-18"))
        .expect("the model was asked about token-18");
    assert!(
        answer.messages.iter().any(|m| m["role"] == "system"
            && m["content"]
                .as_str()
                .unwrap_or("")
                .contains("offer the premium plan")),
        "{:?}",
        answer.messages
    );
    let ear = rig.twilio.call(&call.sid).unwrap().heard_texts();
    assert!(!ear.iter().any(|h| h.contains("premium")), "{ear:?}");

    // Every action is on the call's audit, with who did it.
    let actions = audit(&rig, &call).await;
    let names: Vec<&str> = actions
        .iter()
        .filter(|a| a["ok"] == true)
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for expected in ["listen_started", "whisper", "say", "end"] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    let whisper = actions.iter().find(|a| a["action"] == "whisper").unwrap();
    assert_eq!(whisper["detail"]["text"], "offer the premium plan");
    assert!(whisper["userId"].is_string(), "{whisper}");
    assert!(!whisper["createdAt"].is_null());
}
