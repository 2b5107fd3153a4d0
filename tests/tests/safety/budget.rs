//! The per-call budget (`budget.perCallCents`): once what the call has cost so far reaches
//! it, the real agent worker says its closing sentence and ends the call, with the end
//! reason `budget`. Speech is priced high here (a cent a character) so a first message
//! and one reply cross a 50-cent budget within seconds.

use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;

use crate::{any_hour, contact, finished_calls};

/// The worker's default closing sentence at the budget (`pipeline.phrases.budget`).
const CLOSING: &str = "I have to end the call here. Thank you, goodbye.";

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_call_at_its_budget_ends_with_a_polite_close_and_the_budget_reason(db: PgPool) {
    let _slot = crate::voice_slot().await;
    let options = VoiceOptions {
        worker: Box::new(|config| {
            for rate in config.providers.rates.tts_cents_per_1k_chars.values_mut() {
                *rate = 1000.0;
            }
        }),
        ..VoiceOptions::default()
    };
    let rig = VoiceRig::start(db, options).await.unwrap();
    let phone = "+12123007101";
    // The callee would go on talking: the budget, not the callee, ends the call.
    rig.twilio.register_callee(
        phone,
        CalleeScript::answer_after(200)
            .reply(300, "my code is token-5")
            .reply(300, "and then token-6")
            .reply(300, "and then token-7")
            .reply(300, "and then token-8"),
    );
    let assistant = json!({"name": "Ava", "systemPrompt": "You are Ava from Acme.",
        "firstMessage": "Hi, this is Ava, an AI assistant from Acme.", "maxDurationSec": 60});
    let campaign = rig
        .start_campaign_with(
            vec![contact(phone)],
            assistant,
            any_hour(json!({"budget": {"perCallCents": 50}})),
        )
        .await
        .unwrap();
    let calls = finished_calls(&rig, &campaign).await;
    let call = &calls[0];
    assert_eq!(call["endReason"], "budget", "{call}");

    let report = rig
        .twilio
        .call(call["providerCallId"].as_str().unwrap())
        .unwrap();
    let heard = report.heard_texts();
    assert_eq!(heard.last().map(String::as_str), Some(CLOSING), "{heard:?}");
    // The agent closed the call (its stream ended), not the callee.
    assert_eq!(report.ended_by.as_deref(), Some("twiml"), "{report:?}");
    assert!(
        !heard.iter().any(|h| h.contains("token-8")),
        "the call went on past its budget: {heard:?}"
    );
    // The cost reached the budget (the closing sentence itself is spoken past it).
    let cost = call["costCents"].as_f64().unwrap();
    assert!(cost >= 50.0, "cost {cost}");
}
