//! End-to-end tests of the conversation: a campaign dials through the Twilio emulator, a
//! real agent worker holds the calls against the provider emulators, and the callee's
//! emulated ear decodes what it really heard on its own 8 kHz playout clock.

#![allow(unreachable_pub)]

mod barge_in;
mod bench_small;
mod conversation;
mod faults;
mod voicemail;
mod worker_killed;

use outbound_tests::rig::voice::VoiceRig;
use outbound_tests::twilio::{CallReport, CalleeScript};
use serde_json::{json, Value};
use std::time::Duration;

/// Voice tests run real-time audio on two cores: at most two at once, so a test measures
/// the product rather than the machine's contention (the benchmark test takes both).
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Waits for a slot to run a voice test in; hold it for the test's whole body.
pub async fn slot(count: u32) -> tokio::sync::SemaphorePermit<'static> {
    SLOTS
        .acquire_many(count)
        .await
        .expect("the semaphore is never closed")
}

/// A valid New York number for `i`.
pub fn number(i: u32) -> String {
    format!("+1212300{i:04}")
}

/// Starts a one-contact-per-script campaign and waits until it completes; returns the
/// calls (with transcripts) in contact order.
pub async fn run_campaign(rig: &VoiceRig, contacts: &[String], assistant: Value) -> Vec<Value> {
    run_campaign_with(rig, contacts, assistant, json!({})).await
}

/// [`run_campaign`] with `extra` campaign settings (AMD, voicemail policy, ...).
pub async fn run_campaign_with(
    rig: &VoiceRig,
    contacts: &[String],
    assistant: Value,
    extra: Value,
) -> Vec<Value> {
    let contacts: Vec<Value> = contacts
        .iter()
        .map(|phone| json!({"phone": phone, "timezone": "America/New_York"}))
        .collect();
    let mut settings = json!({"maxAttempts": 1,
        "schedule": {"timezone": "America/New_York",
            "callingDays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "startHour": 0, "endHour": 24},
        // Voice tests run on the wall clock, at whatever hour CI runs them.
        "allowOutsideLegalHours": true});
    if let (Some(settings), Some(extra)) = (settings.as_object_mut(), extra.as_object()) {
        settings.extend(extra.clone());
    }
    let campaign = rig
        .start_campaign_with(contacts, assistant, settings)
        .await
        .unwrap();
    rig.wait_for_campaign(&campaign, Duration::from_secs(90))
        .await
        .unwrap();
    // The campaign completes on Twilio's final callback; the worker's last reports (usage,
    // latency, recording, why it ended) follow a moment later.
    let started = std::time::Instant::now();
    loop {
        let page = rig
            .get(&format!("/api/v1/calls?campaignId={campaign}&perPage=100"))
            .await
            .unwrap();
        let calls = page["data"].as_array().cloned().unwrap_or_default();
        let reported = calls
            .iter()
            .all(|c| c["answeredAt"].is_null() || !c["endReason"].is_null());
        if reported || started.elapsed() > Duration::from_secs(30) {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a one-callee campaign: `phone` behaves as `script`; returns the call as the API
/// shows it and as the emulated phone lived it.
pub async fn run_one(
    rig: &VoiceRig,
    phone: &str,
    script: CalleeScript,
    assistant: Value,
) -> (Value, CallReport) {
    rig.twilio.register_callee(phone, script);
    let calls = run_campaign(rig, &[phone.to_string()], assistant).await;
    let call = call_to(&calls, phone).clone();
    let report = rig
        .twilio
        .call(call["providerCallId"].as_str().unwrap())
        .unwrap();
    (call, report)
}

/// The call to `phone` among `calls`.
pub fn call_to<'a>(calls: &'a [Value], phone: &str) -> &'a Value {
    calls
        .iter()
        .find(|c| c["to"] == phone)
        .unwrap_or_else(|| panic!("no call to {phone} in {calls:?}"))
}

/// The call's transcript entries as `(speaker, text)`.
pub async fn transcript(rig: &VoiceRig, call: &Value) -> Vec<(String, String)> {
    let id = call["id"].as_str().unwrap();
    let transcript = rig
        .get(&format!("/api/v1/calls/{id}/transcript"))
        .await
        .unwrap();
    transcript["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["speaker"].as_str().unwrap().to_string(),
                e["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The default test assistant: a first message and a voicemail message, short enough to
/// keep tests quick.
pub fn assistant() -> Value {
    json!({
        "name": "Ava",
        "systemPrompt": "You are Ava from Acme. Keep answers short.",
        "firstMessage": "Hi, this is Ava, an AI assistant from Acme.",
        "voicemailMessage": "Sorry we missed you. Please call Acme back.",
        "maxDurationSec": 60,
    })
}
