//! A campaign of mixed callees ends with exactly the right dials, attempts and states.

use std::collections::HashMap;

use chrono::Duration;
use futures::FutureExt;
use outbound_tests::rig::Rig;
use outbound_tests::twilio::{CallbackDelivery, CalleeScript};
use serde_json::json;
use sqlx::PgPool;

use crate::{contact, number, tuesday_morning_new_york};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Answer,
    Busy,
    NoAnswer,
    Voicemail,
    Unreachable,
    Dnc,
}

fn kind_of(i: u32) -> Kind {
    match i % 10 {
        0..=3 => Kind::Answer,
        4 | 5 => Kind::Busy,
        6 | 7 => Kind::NoAnswer,
        8 => Kind::Voicemail,
        _ if i == 9 => Kind::Unreachable,
        _ if i == 19 => Kind::Dnc,
        _ => Kind::Answer,
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_mixed_campaign_dials_each_contact_exactly_as_the_policy_says(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning_new_york()).await.unwrap();
    let count = 50;
    for i in 0..count {
        let script = match kind_of(i) {
            Kind::Answer | Kind::Dnc => CalleeScript::answer(),
            Kind::Busy => CalleeScript::busy(),
            Kind::NoAnswer => CalleeScript::no_answer(),
            Kind::Voicemail => CalleeScript::voicemail("leave a message"),
            Kind::Unreachable => CalleeScript::unreachable(),
        };
        // Some callees' callbacks come twice or out of order: the outcome must not change.
        let script = match i % 3 {
            1 => script.deliver_callbacks(CallbackDelivery::Twice),
            2 => script.deliver_callbacks(CallbackDelivery::Reordered),
            _ => script,
        };
        rig.twilio.register_callee(&number(i), script);
    }
    let dnc = (0..count).find(|i| kind_of(*i) == Kind::Dnc).unwrap();
    rig.post(
        "/api/v1/dnc",
        json!({"phone": number(dnc), "reason": "asked"}),
    )
    .await
    .unwrap();
    let contacts = (0..count).map(contact).collect();
    let campaign = rig
        .start_campaign(contacts, json!({"amd": {"enabled": true, "timeoutSec": 5}}))
        .await
        .unwrap();

    let id = campaign.clone();
    rig.drive(Duration::seconds(20), 3000, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "completed") }.boxed()
    })
    .await
    .unwrap();

    let attempts = rig.attempts(&campaign).await.unwrap();
    assert_eq!(attempts.len(), count as usize);
    let by_phone: HashMap<String, &serde_json::Value> = attempts
        .iter()
        .map(|a| (a["phone"].as_str().unwrap().to_string(), a))
        .collect();
    for i in 0..count {
        let phone = number(i);
        let attempt = by_phone[&phone];
        let dials = rig.twilio.dial_count(&phone);
        let (state, result, expected_dials) = match kind_of(i) {
            Kind::Answer => ("done", Some("answered"), 1),
            Kind::Busy => ("exhausted", Some("busy"), 3),
            Kind::NoAnswer => ("exhausted", Some("no_answer"), 3),
            Kind::Voicemail => ("exhausted", Some("voicemail"), 3),
            Kind::Unreachable => ("done", Some("invalid_number"), 1),
            Kind::Dnc => ("skipped", None, 0),
        };
        if dials != expected_dials {
            for call in rig.twilio.calls_to(&phone) {
                eprintln!("{:#?}", call.timeline);
                eprintln!(
                    "{:?}",
                    call.callbacks
                        .iter()
                        .map(|c| (c.kind, c.params.clone(), c.response_status))
                        .collect::<Vec<_>>()
                );
            }
            eprintln!("{}", serde_json::to_string_pretty(attempt).unwrap());
        }
        assert_eq!(dials, expected_dials, "dials to {phone} ({:?})", kind_of(i));
        assert_eq!(attempt["state"], state, "state of {phone}: {attempt}");
        assert_eq!(
            attempt["lastResult"].as_str(),
            result,
            "result of {phone}: {attempt}"
        );
        assert_eq!(attempt["attempts"], expected_dials, "attempts of {phone}");
    }
    assert_eq!(by_phone[&number(dnc)]["skipReason"], "dnc");

    // The answered calls reached the stand-in worker with a token that fetched their job.
    let answered: Vec<String> = (0..count)
        .filter(|i| kind_of(*i) == Kind::Answer)
        .map(number)
        .collect();
    let seen = rig.worker.calls();
    for phone in &answered {
        let call = seen
            .iter()
            .find(|c| c.job["to"] == phone.as_str())
            .unwrap_or_else(|| panic!("no worker call for {phone}"));
        assert_eq!(call.job_status, 200);
        assert_eq!(call.events_status, 200);
        assert!(call.parameters["token"]
            .as_str()
            .is_some_and(|t| !t.is_empty()));
        let i: u32 = phone[phone.len() - 4..].parse().unwrap();
        assert_eq!(call.job["systemPrompt"], format!("Talk to Contact {i}."));
    }
    // Every call's status came out right, whatever order its callbacks came in.
    let calls = rig
        .get(&format!("/api/v1/campaigns/{campaign}/calls?perPage=500"))
        .await
        .unwrap();
    for call in calls["data"].as_array().unwrap() {
        let to = call["to"].as_str().unwrap();
        let i: u32 = to[to.len() - 4..].parse().unwrap();
        let expected = match kind_of(i) {
            Kind::Answer | Kind::Voicemail => "completed",
            Kind::Busy => "busy",
            Kind::NoAnswer => "no_answer",
            Kind::Unreachable => "failed",
            Kind::Dnc => unreachable!("a DNC number was dialed"),
        };
        assert_eq!(call["status"], expected, "call to {to}: {call}");
        if kind_of(i) == Kind::Voicemail {
            assert_eq!(call["outcome"], "voicemail");
        }
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_voicemail_gets_the_assistants_message_after_the_beep(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning_new_york()).await.unwrap();
    let phone = number(0);
    rig.twilio
        .register_callee(&phone, CalleeScript::voicemail("leave a message"));
    let campaign = rig
        .start_campaign(
            vec![contact(0)],
            json!({"maxAttempts": 1, "amd": {"enabled": true, "timeoutSec": 10},
                   "voicemail": {"action": "leave_message"}}),
        )
        .await
        .unwrap();
    let id = campaign.clone();
    rig.drive(Duration::seconds(5), 1000, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "completed") }.boxed()
    })
    .await
    .unwrap();
    let call = &rig.twilio.calls_to(&phone)[0];
    assert_eq!(call.answered_by.as_deref(), Some("machine_end_beep"));
    // The live call's TwiML was replaced: the message was spoken, then the call hung up.
    assert_eq!(
        call.twiml_audio,
        ["say:Please call us back."],
        "{:?}",
        call.timeline
    );
    let attempts = rig.attempts(&campaign).await.unwrap();
    assert_eq!(attempts[0]["lastResult"], "voicemail");
    let calls = rig
        .get(&format!("/api/v1/campaigns/{campaign}/calls"))
        .await
        .unwrap();
    assert_eq!(calls["data"][0]["outcome"], "voicemail");
    // Not the worker's reason for the line dropping: we ended it because it was a machine.
    assert_eq!(
        calls["data"][0]["endReason"], "voicemail",
        "{}",
        calls["data"][0]
    );
}
