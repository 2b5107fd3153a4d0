//! Inbound numbers and SMS end to end (issue 19): callers reach an assistant on a real
//! agent worker through the Twilio emulator, hear the configured message when no worker is
//! free, leave a voicemail outside business hours; the agent texts the caller and the text
//! is delivered; STOP and START change who campaigns may dial and text; another
//! organization is refused everything; forged webhooks are refused.

#![allow(unreachable_pub)]

mod calls;
mod emulator;
mod livekit;
mod reserve;
mod tenancy;
mod texts;

use outbound_tests::rig::Api;
use outbound_tests::twilio::{EmulatorHandle, NumberHooks};
use serde_json::{json, Value};

/// Voice tests run real-time audio on two cores: at most two at once.
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub async fn slot() -> tokio::sync::SemaphorePermit<'static> {
    SLOTS
        .acquire()
        .await
        .expect("the semaphore is never closed")
}

/// Our number (the rig's trunk number).
pub const OURS: &str = "+12125550100";
/// The caller, a contact in the organization's list.
pub const CALLER: &str = "+12123000001";

/// What `setup` made.
pub struct Setup {
    pub number: Value,
    pub contact_id: String,
    pub trunk_id: String,
}

/// An assistant that may text a booking confirmation, a `twilio_stream` trunk with our
/// number, a contact list holding the caller (name and a variable), and our number
/// answering with the assistant (`number` is merged over the defaults); the emulated
/// number's webhooks point at the control plane.
pub async fn setup(api: &Api, twilio: &EmulatorHandle, number: Value) -> Setup {
    let assistant = api
        .post(
            "/api/v1/assistants",
            json!({"name": "Ava", "systemPrompt": "You are Ava from Acme. {{name}} called.",
                   "firstMessage": "Hi {{name}}, thanks for calling Acme. This is Ava, an AI assistant.",
                   "maxDurationSec": 60,
                   "tools": {"endCall": true,
                             "smsMessage": "Hi {{name}}, your booking code is {{code}}."}}),
        )
        .await
        .unwrap();
    let trunk = api
        .post(
            "/api/v1/trunks",
            json!({"name": "Main", "provider": "twilio", "mode": "twilio_stream",
                   "numbers": [OURS], "callsPerSecond": 100}),
        )
        .await
        .unwrap();
    let list = api
        .post("/api/v1/contact-lists", json!({"name": "Customers"}))
        .await
        .unwrap();
    let list_id = list["id"].as_str().unwrap();
    let imported = api
        .post(
            &format!("/api/v1/contact-lists/{list_id}/contacts"),
            json!({"contacts": [{"phone": CALLER, "name": "Dana",
                   "timezone": "America/New_York", "variables": {"code": "bk-42"}}]}),
        )
        .await
        .unwrap();
    assert_eq!(imported["rejected"], 0, "{imported}");
    let contacts = api
        .get(&format!("/api/v1/contact-lists/{list_id}/contacts"))
        .await
        .unwrap();
    let contact_id = contacts["data"][0]["id"].as_str().unwrap().to_string();
    let mut body = json!({"number": OURS, "trunkId": trunk["id"], "assistantId": assistant["id"]});
    if let (Some(body), Some(over)) = (body.as_object_mut(), number.as_object()) {
        body.extend(over.clone());
    }
    let number = api.post("/api/v1/numbers", body).await.unwrap();
    let hooks = &number["webhooks"];
    twilio.configure_number(
        OURS,
        NumberHooks {
            voice_url: hooks["voiceUrl"].as_str().map(str::to_string),
            status_callback: hooks["statusCallbackUrl"].as_str().map(str::to_string),
            sms_url: hooks["smsUrl"].as_str().map(str::to_string),
        },
    );
    Setup {
        number,
        contact_id,
        trunk_id: trunk["id"].as_str().unwrap().to_string(),
    }
}

/// Polls `path` until `check` holds on its JSON (10 s at most).
pub async fn wait_for(api: &Api, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = std::time::Instant::now();
    loop {
        let value = api.get(path).await.unwrap();
        if check(&value) {
            return value;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "timed out waiting for {what}: {value}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The organization's inbound calls, newest first.
pub async fn inbound_calls(api: &Api) -> Vec<Value> {
    let page = api.get("/api/v1/calls?perPage=100").await.unwrap();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["direction"] == "inbound")
        .cloned()
        .collect()
}
