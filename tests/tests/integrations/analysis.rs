//! Post-call analysis on the LLM emulator: the structured data follows the assistant's
//! JSON Schema and the call's words, an invalid answer is asked again once, a second
//! invalid one is recorded as failed; the cost counts in the call's; the call and its
//! end-of-call report carry the analysis.

use std::time::Duration;

use outbound_tests::providers::{ProviderConfig, ProviderEmulator};
use outbound_tests::rig::Rig;
use outbound_tests::twilio::CalleeScript;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::receiver::Receiver;
use crate::{contact, drive_until, endpoint, number, quick_webhooks, tuesday_morning};

/// Runs a one-contact campaign on `assistant`'s plan and returns the call's report.
async fn call_and_report(rig: &Rig, receiver: &Receiver, i: u32, plan: &Value) -> Value {
    rig.twilio
        .register_callee(&number(i), CalleeScript::answer());
    let assistant = rig
        .post(
            "/api/v1/assistants",
            json!({"name": format!("Analysed {i}"), "systemPrompt": "Sell seats.",
                   "firstMessage": "Hi, this is Ava, an AI assistant.", "maxDurationSec": 30}),
        )
        .await
        .unwrap();
    let assistant_id = assistant["id"].as_str().unwrap();
    let (status, body) = rig
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/assistants/{assistant_id}/analysis-plan"),
            Some(plan.clone()),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let list = rig
        .post(
            "/api/v1/contact-lists",
            json!({"name": format!("List {i}")}),
        )
        .await
        .unwrap();
    let list_id = list["id"].as_str().unwrap();
    rig.post(
        &format!("/api/v1/contact-lists/{list_id}/contacts"),
        json!({"contacts": [contact(i)]}),
    )
    .await
    .unwrap();
    let trunk = rig
        .post(
            "/api/v1/trunks",
            json!({"name": format!("Trunk {i}"), "provider": "twilio", "mode": "twilio_stream",
                   "numbers": ["+12125550100"], "callsPerSecond": 100}),
        )
        .await
        .unwrap();
    let campaign = rig
        .post(
            "/api/v1/campaigns",
            json!({"name": format!("Analysed {i}"), "assistantId": assistant_id,
                   "contactListId": list_id, "trunkId": trunk["id"], "maxAttempts": 1,
                   "schedule": {"timezone": "America/New_York",
                                "callingDays": ["mon","tue","wed","thu","fri","sat","sun"],
                                "startHour": 8, "endHour": 21}}),
        )
        .await
        .unwrap();
    let campaign_id = campaign["id"].as_str().unwrap();
    rig.post(&format!("/api/v1/campaigns/{campaign_id}/start"), json!({}))
        .await
        .unwrap();
    let phone = number(i);
    drive_until(
        rig,
        chrono::Duration::seconds(10),
        Duration::from_secs(30),
        || {
            receiver
                .accepted()
                .iter()
                .any(|e| e["type"] == "call.report" && e["data"]["to"] == phone.as_str())
        },
    )
    .await;
    receiver
        .accepted()
        .into_iter()
        .find(|e| e["type"] == "call.report" && e["data"]["to"] == phone.as_str())
        .unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn analysis_fills_structured_data_and_asks_again_after_an_invalid_answer(db: PgPool) {
    let llm = ProviderEmulator::start(ProviderConfig::instant())
        .await
        .unwrap();
    let base = llm.openai_base_url();
    let rig = Rig::start_with(db, tuesday_morning(), |s| {
        quick_webhooks(s);
        s.analysis.base_url = Some(base);
        s.analysis.api_key = Some(secrecy::SecretString::from("sk-analysis-test"));
    })
    .await
    .unwrap();
    let receiver = Receiver::start(0).await;
    let (_, secret) = endpoint(&rig.api, &receiver.url(), &["call.report"]).await;
    receiver.set_secret(&secret);
    rig.worker.set_script(vec![
        json!({"type": "transcript", "speaker": "agent", "text": "How many seats do you need?",
               "startMs": 0, "endMs": 900}),
        json!({"type": "transcript", "speaker": "callee",
               "text": "Yes, I am interested in 12 seats for team-42", "startMs": 1000, "endMs": 2500}),
    ]);
    let plan = json!({
        "summary": true,
        "structuredDataSchema": {
            "type": "object",
            "required": ["interested", "seats", "team"],
            "properties": {
                "interested": {"type": "boolean"},
                "seats": {"type": "integer", "minimum": 1},
                "team": {"type": "string"}
            }
        },
        "successCriteria": "the callee agreed to buy seats"
    });

    // The first answer ignores the schema; the second, asked with the reason, is good.
    llm.answer_analyses_invalidly(1);
    let report = call_and_report(&rig, &receiver, 0, &plan).await;
    let analysis = &report["data"]["analysis"];
    assert_eq!(analysis["status"], "completed", "{analysis}");
    assert_eq!(analysis["requests"], 2);
    assert_eq!(
        analysis["structuredData"],
        json!({"interested": true, "seats": 12, "team": "team-42"})
    );
    assert_eq!(analysis["successEvaluation"]["success"], true);
    assert!(analysis["summary"].as_str().unwrap().contains("12 seats"));
    let analysis_cost = analysis["costCents"].as_f64().unwrap();
    assert!(analysis_cost > 0.0);
    assert_eq!(report["data"]["costBreakdown"]["analysis"], analysis_cost);
    // The retry told the model what was wrong.
    let requests = llm.report().llm;
    let retry = requests
        .iter()
        .find(|r| r.messages.len() == 4)
        .expect("a second request with the invalid answer and the reason");
    assert!(retry.messages[3]["content"]
        .as_str()
        .unwrap()
        .contains("does not satisfy the schema"));
    // The call shows the analysis too, its cost included in the call's.
    let call_id = report["data"]["callId"].as_str().unwrap();
    let call = rig.get(&format!("/api/v1/calls/{call_id}")).await.unwrap();
    assert_eq!(call["analysis"]["structuredData"]["seats"], 12);
    assert!(call["costCents"].as_f64().unwrap() >= analysis_cost);

    // Two invalid answers: recorded as failed, with the reason, what was readable kept.
    llm.answer_analyses_invalidly(2);
    let report = call_and_report(&rig, &receiver, 1, &plan).await;
    let analysis = &report["data"]["analysis"];
    assert_eq!(analysis["status"], "failed", "{analysis}");
    assert_eq!(analysis["requests"], 2);
    assert!(analysis["structuredData"].is_null());
    assert!(
        analysis["error"].as_str().unwrap().contains("seats"),
        "{analysis}"
    );
    assert!(analysis["summary"].is_string());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_analysis_plan_with_an_invalid_schema_is_refused(db: PgPool) {
    let rig = Rig::start_with(db, tuesday_morning(), quick_webhooks)
        .await
        .unwrap();
    let assistant = rig
        .post(
            "/api/v1/assistants",
            json!({"name": "A", "systemPrompt": "x", "firstMessage": "Hi, this is Ava, an AI assistant."}),
        )
        .await
        .unwrap();
    let id = assistant["id"].as_str().unwrap();
    let (status, body) = rig
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/assistants/{id}/analysis-plan"),
            Some(json!({"structuredDataSchema": {"type": "no-such-type"}})),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "structuredDataSchema");
}
