//! End-to-end tests of live supervision: a campaign call through the Twilio emulator held
//! by a real agent worker, a supervisor on the control plane's listen WebSocket and
//! control route, the callee's emulated ear deciding what it really heard, and the LLM
//! emulator recording what the model was asked.

#![allow(unreachable_pub)]

mod listener;
mod steps_in;
mod take_over;

use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::speech_code::{DecodeEvent, Decoder};
use outbound_tests::twilio::CalleeScript;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Real-time audio on two cores: at most two calls' tests at once (as the voice suite).
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub async fn slot() -> tokio::sync::SemaphorePermit<'static> {
    SLOTS
        .acquire()
        .await
        .expect("the semaphore is never closed")
}

/// A valid New York number for `i`.
pub fn number(i: u32) -> String {
    format!("+1212400{i:04}")
}

/// The rig, with silence timers long enough that the agent never re-prompts or hangs up
/// while a test steps in.
pub async fn rig(db: sqlx::PgPool) -> VoiceRig {
    let options = VoiceOptions {
        worker: Box::new(|config| {
            config.pipeline.silence_timeout_ms = 30_000;
        }),
        ..VoiceOptions::default()
    };
    VoiceRig::start(db, options).await.unwrap()
}

/// A call in progress.
pub struct LiveCall {
    pub id: String,
    /// The Twilio emulator's call sid.
    pub sid: String,
}

/// Dials `phone` (scripted with `script`) in a one-contact campaign and waits until the
/// call is in progress.
pub async fn dial(rig: &VoiceRig, phone: &str, script: CalleeScript) -> LiveCall {
    rig.twilio.register_callee(phone, script);
    let assistant = json!({
        "name": "Ava",
        "systemPrompt": "You are Ava from Acme. Keep answers short.",
        "firstMessage": "Hi, this is Ava, an AI assistant from Acme.",
        "maxDurationSec": 120,
    });
    let settings = json!({"maxAttempts": 1,
        "schedule": {"timezone": "America/New_York",
            "callingDays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "startHour": 0, "endHour": 24},
        "allowOutsideLegalHours": true});
    let contacts = vec![json!({"phone": phone, "timezone": "America/New_York"})];
    let campaign = rig
        .start_campaign_with(contacts, assistant, settings)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let page = rig
            .get(&format!("/api/v1/calls?campaignId={campaign}"))
            .await
            .unwrap();
        if let Some(call) = page["data"]
            .as_array()
            .and_then(|calls| calls.first())
            .filter(|c| c["status"] == "in_progress")
        {
            return LiveCall {
                id: call["id"].as_str().unwrap().to_string(),
                sid: call["providerCallId"].as_str().unwrap().to_string(),
            };
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no live call: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a control; panics unless it was accepted.
pub async fn control(rig: &VoiceRig, call: &LiveCall, body: Value) {
    let (status, answer) = rig
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/calls/{}/control", call.id),
            Some(body.clone()),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body} -> {answer}");
}

/// Waits until the callee's ear has decoded an utterance containing `text`.
pub async fn wait_to_hear(rig: &VoiceRig, call: &LiveCall, text: &str) {
    rig.twilio
        .wait_until(&call.sid, Duration::from_secs(30), text, |report| {
            report.heard_texts().iter().any(|h| h.contains(text))
        })
        .await
        .unwrap_or_else(|e| {
            let heard = rig.twilio.call(&call.sid).map(|r| r.heard_texts());
            panic!("{e}: the callee heard {heard:?}")
        });
}

/// The call once its worker has reported why it ended.
pub async fn ended_call(rig: &VoiceRig, call: &LiveCall) -> Value {
    let started = Instant::now();
    loop {
        let view = rig
            .get(&format!("/api/v1/calls/{}", call.id))
            .await
            .unwrap();
        if !view["endReason"].is_null() && !view["endedAt"].is_null() {
            return view;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not ended: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The call's supervision audit as `(action, ok)`.
pub async fn audit(rig: &VoiceRig, call: &LiveCall) -> Vec<Value> {
    let list = rig
        .get(&format!("/api/v1/calls/{}/supervision", call.id))
        .await
        .unwrap();
    list["data"].as_array().cloned().unwrap_or_default()
}

/// Every utterance decoded from 16 kHz audio.
pub fn decode_all(samples: &[i16]) -> Vec<String> {
    let mut decoder = Decoder::new(16_000);
    let mut events = decoder.push(samples);
    events.extend(decoder.finish());
    events
        .into_iter()
        .filter_map(|e| match e {
            DecodeEvent::Utterance(u) => Some(u.text),
            _ => None,
        })
        .collect()
}
