//! Barge-in and backchannels, measured at the callee's ear on its playout clock.

use crate::{number, run_one, transcript};
use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;

/// A first message long enough (about 6 s of speech) to talk over.
const LONG_FIRST: &str =
    "Hi, this is Ava, an AI assistant from Acme, calling about the order you placed with us last week.";

fn assistant() -> serde_json::Value {
    json!({"name": "Ava", "systemPrompt": "Be brief.", "firstMessage": LONG_FIRST,
           "maxDurationSec": 60})
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_agent_stops_within_300_ms_when_the_callee_talks_over_it(db: PgPool) {
    let _slot = crate::slot(1).await;
    let rig = VoiceRig::start(db, VoiceOptions::default()).await.unwrap();
    let phone = number(10);
    let script = CalleeScript::answer_after(200)
        .say(1_500, "sorry who is calling token-44")
        .reply(300, "goodbye");
    let (call, report) = run_one(&rig, &phone, script, assistant()).await;
    let barge_in = report
        .barge_ins
        .first()
        .expect("the callee talked over the agent");
    let stop = barge_in.latency_ms().expect("the agent's audio stopped");
    assert!(
        stop <= 300,
        "the agent kept talking {stop} ms over the callee"
    );
    // The agent answered what the callee said over it.
    assert!(
        report.heard_texts().iter().any(|t| t.contains("token-44")),
        "{:?}",
        report.heard_texts()
    );
    // The history (and the transcript) hold only what was heard of the first message.
    let lines = transcript(&rig, &call).await;
    let first = &lines.iter().find(|(who, _)| who == "agent").unwrap().1;
    assert!(
        first.ends_with("...") && first.len() < LONG_FIRST.len(),
        "{first}"
    );
    let llm = rig.providers.report().llm;
    let asked = &llm[0].messages;
    let said = asked
        .iter()
        .find(|m| m["role"] == "assistant")
        .and_then(|m| m["content"].as_str())
        .unwrap();
    assert_ne!(
        said, LONG_FIRST,
        "the model was told it said what the callee never heard"
    );
    assert!(call["latency"]["bargeIns"][0]["stopMs"].as_f64().unwrap() < 300.0);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_backchannel_pauses_the_agent_which_then_resumes(db: PgPool) {
    let _slot = crate::slot(1).await;
    let rig = VoiceRig::start(db, VoiceOptions::default()).await.unwrap();
    let phone = number(11);
    let script = CalleeScript::answer_after(200)
        .say(1_500, "ok")
        .reply(400, "goodbye");
    let (_, report) = run_one(&rig, &phone, script, assistant()).await;
    assert!(
        !report.barge_ins.is_empty(),
        "the agent should pause for the callee"
    );
    let heard = report.heard_texts();
    assert_eq!(
        heard.first().map(String::as_str),
        Some(LONG_FIRST),
        "{heard:?}"
    );
    // "ok" was not a turn: the model was first asked after "goodbye".
    let llm = rig.providers.report().llm;
    assert_eq!(llm[0].last_user_text.as_deref(), Some("goodbye"), "{llm:?}");
}
