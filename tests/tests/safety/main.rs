//! The safety paths of issue 18 (item 1) that were built but untested, each end to end
//! through the emulators: the agent's transfer and callback tools, the per-call budget,
//! a trunk's calls per second held across two control-plane replicas, a worker's call
//! slots, the engine's deferral decisions and the telephony line of a call's cost. (The
//! DNC tool, the monthly budget and `maxConcurrentCalls` are in the compliance suite.)

#![allow(unreachable_pub)]

mod budget;
mod callback;
mod cost;
mod decisions;
mod rate;
mod slots;
mod transfer;

use std::time::Duration;

use outbound_tests::rig::voice::VoiceRig;
use serde_json::{json, Value};

/// Tests with a real agent worker run real-time audio on two cores: at most two at once.
static VOICE_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Waits for a slot to run a voice test in; hold it for the test's whole body.
pub async fn voice_slot() -> tokio::sync::SemaphorePermit<'static> {
    VOICE_SLOTS
        .acquire()
        .await
        .expect("the semaphore is never closed")
}

/// Campaign settings for the voice rig, which runs on the wall clock at whatever hour CI
/// runs it: every day, every hour.
pub fn any_hour(extra: Value) -> Value {
    let mut settings = json!({"maxAttempts": 1,
        "schedule": {"timezone": "America/New_York",
            "callingDays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "startHour": 0, "endHour": 24},
        "allowOutsideLegalHours": true});
    if let (Some(settings), Some(extra)) = (settings.as_object_mut(), extra.as_object()) {
        settings.extend(extra.clone());
    }
    settings
}

/// A New York contact.
pub fn contact(phone: &str) -> Value {
    json!({"phone": phone, "timezone": "America/New_York"})
}

/// Waits until the campaign completed and every answered call has the worker's last
/// reports (its end reason); returns the calls.
pub async fn finished_calls(rig: &VoiceRig, campaign: &str) -> Vec<Value> {
    rig.wait_for_campaign(campaign, Duration::from_secs(90))
        .await
        .unwrap();
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

/// A plain assistant that discloses who calls and that the call is automated.
pub fn assistant() -> Value {
    json!({"name": "Ava", "systemPrompt": "You are Ava from Acme.",
        "firstMessage": "Hi, this is Ava, an AI assistant from Acme.", "maxDurationSec": 60})
}
