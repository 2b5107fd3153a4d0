//! The callee asks not to be called again: the real agent worker's DNC tool puts the
//! number on the organization's Do-Not-Call list during the call, with the call as its
//! source, and no campaign of the organization dials it again; the contact's history
//! shows the dial and the refusal. The logs of the call hold neither the number nor what
//! was said.

use std::time::Duration;

use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::{json, Value};
use sqlx::PgPool;

fn settings() -> Value {
    json!({"maxAttempts": 1,
        "schedule": {"timezone": "America/New_York",
            "callingDays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "startHour": 0, "endHour": 24},
        // The voice rig runs on the wall clock, at whatever hour CI runs it.
        "allowOutsideLegalHours": true})
}

fn assistant() -> Value {
    json!({"name": "Ava", "systemPrompt": "You are Ava from Acme.",
           "firstMessage": "Hi, this is Ava, an AI assistant from Acme.", "maxDurationSec": 60})
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_callee_who_asks_not_to_be_called_is_on_the_dnc_list_at_once_and_never_dialed_again(
    db: PgPool,
) {
    crate::logs::capture();
    let rig = VoiceRig::start(db, VoiceOptions::default()).await.unwrap();
    let phone = "+12123009001";
    rig.twilio.register_callee(
        phone,
        CalleeScript::answer_after(200).reply(300, "please stop calling me"),
    );
    let contact = json!({"phone": phone, "timezone": "America/New_York"});
    let first = rig
        .start_campaign_with(vec![contact.clone()], assistant(), settings())
        .await
        .unwrap();
    rig.wait_for_campaign(&first, Duration::from_secs(60))
        .await
        .unwrap();
    let calls = rig
        .get(&format!("/api/v1/calls?campaignId={first}"))
        .await
        .unwrap();
    let call_id = calls["data"][0]["id"].as_str().unwrap().to_string();

    // The real worker measured when the callee first heard it. Its metrics event is
    // delivered on its own, so it may land just after the status callback that ended the
    // campaign (a CI run read it before it came): wait for it a little.
    let mut first_audio: Option<i64> = None;
    for _ in 0..50 {
        first_audio =
            sqlx::query_scalar("select first_agent_audio_ms from calls where id = $1::uuid")
                .bind(&call_id)
                .fetch_one(&rig.db)
                .await
                .unwrap();
        if first_audio.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        first_audio.is_some_and(|ms| (0..2_000).contains(&ms)),
        "first audio {first_audio:?}"
    );

    let dnc = rig.get("/api/v1/dnc?phone=%2B12123009001").await.unwrap();
    let entry = &dnc["data"][0];
    assert_eq!(entry["source"], "call", "{dnc}");
    assert_eq!(entry["sourceCallId"], call_id.as_str());
    // In force while the call was still up: listed before the call ended.
    let (listed, ended): (
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    ) = sqlx::query_as(
        "select d.created_at, c.ended_at from dnc d, calls c
             where d.phone = $1 and c.id = $2::uuid",
    )
    .bind(phone)
    .bind(&call_id)
    .fetch_one(&rig.db)
    .await
    .unwrap();
    if let Some(ended) = ended {
        assert!(listed <= ended, "listed {listed}, call ended {ended}");
    }

    // Another campaign of the organization skips the number.
    let second = rig
        .start_campaign_with(vec![contact], assistant(), settings())
        .await
        .unwrap();
    rig.wait_for_campaign(&second, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(rig.twilio.calls_to(phone).len(), 1, "dialed again");
    let attempts = rig.attempts(&second).await.unwrap();
    assert_eq!(attempts[0]["decisions"][0]["decision"], "skipped_dnc");

    // The first campaign's contact: dialed, in its history.
    let first_contact = attempts_contact(&rig, &first).await;
    let history = rig
        .get(&format!("/api/v1/contacts/{first_contact}/history"))
        .await
        .unwrap();
    assert_eq!(history["data"][0]["decision"], "dialed", "{history}");

    let logs = crate::logs::captured();
    assert!(logs.contains(&call_id), "the call was logged at all");
    assert!(!logs.contains("2123009001"), "a phone number in the logs");
    for said in [
        "stop calling",
        "Ava, an AI assistant",
        "will not call you again",
    ] {
        assert!(!logs.contains(said), "transcript text in the logs: {said}");
    }
}

async fn attempts_contact(rig: &VoiceRig, campaign: &str) -> String {
    let attempts = rig.attempts(campaign).await.unwrap();
    attempts[0]["contactId"].as_str().unwrap().to_string()
}
