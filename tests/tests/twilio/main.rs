//! The Twilio emulator driven the way the product will drive it: REST calls in, signed
//! webhooks and a Media Stream out, to a stand-in for the product's control plane and agent.

mod binary;
mod calls;
mod media;
mod pickups;
mod support;

use outbound_tests::twilio::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::Value;
use support::Product;
use tokio::time::Duration;

pub(crate) const SECS: fn(u64) -> Duration = Duration::from_secs;

pub(crate) async fn setup() -> (EmulatorHandle, Product) {
    let emulator = Emulator::start(EmulatorConfig::unlimited())
        .await
        .expect("start");
    let product = Product::start(emulator.auth_token()).await;
    (emulator, product)
}

pub(crate) async fn create(emulator: &EmulatorHandle, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(emulator.calls_url())
        .basic_auth(emulator.account_sid(), Some(emulator.auth_token()))
        .form(form)
        .send()
        .await
        .expect("emulator reachable");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

pub(crate) async fn update(
    emulator: &EmulatorHandle,
    sid: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let url = emulator
        .calls_url()
        .replace("Calls.json", &format!("Calls/{sid}.json"));
    let response = reqwest::Client::new()
        .post(url)
        .basic_auth(emulator.account_sid(), Some(emulator.auth_token()))
        .form(form)
        .send()
        .await
        .expect("emulator reachable");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// A streamed call to `to` with every status event sent to the stand-in.
pub(crate) async fn streamed_call(
    emulator: &EmulatorHandle,
    product: &Product,
    to: &str,
) -> String {
    let status_url = product.url("/status");
    let twiml = product.stream_twiml();
    let (status, body) = create(
        emulator,
        &[
            ("To", to),
            ("From", "+15550000000"),
            ("Twiml", &twiml),
            ("StatusCallback", &status_url),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["sid"].as_str().expect("sid").to_string()
}

pub(crate) fn statuses(product: &Product) -> Vec<String> {
    product
        .hooks("/status")
        .iter()
        .map(|h| h.param("CallStatus").unwrap_or("?").to_string())
        .collect()
}
