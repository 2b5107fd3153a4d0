//! The LiveKit SIP path on the real rig: livekit-server, livekit-sip and sipp callees on
//! loopback. `rig` checks the rig itself speaks SIP as the product expects; `campaigns`
//! drives `livekit_sip` campaigns through the control plane; `webhooks` checks LiveKit's
//! signed events.

#![allow(unreachable_pub)]

mod campaigns;
mod capacity;
mod crash;
mod dialer;
mod rig;
mod webhooks;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use outbound_tests::rig::livekit::LiveKitRig;
use serde_json::{json, Value};

/// The manual clock's start: close to the real time, as the real worker needs.
pub fn now() -> DateTime<Utc> {
    LiveKitRig::now()
}

/// A distinct New York number for `i`.
pub fn number(i: u32) -> String {
    format!("+1212300{i:04}")
}

pub fn contact(i: u32) -> Value {
    json!({"phone": number(i), "name": format!("Contact {i}"), "timezone": "America/New_York"})
}

/// Drives the engine (the manual clock `step_sec` per round, real time passing too) until
/// `done` holds for the rig.
pub async fn drive_until<F>(rig: &LiveKitRig, step_sec: i64, what: &str, done: F)
where
    F: Fn(&LiveKitRig) -> futures::future::BoxFuture<'_, bool>,
{
    let step = chrono::Duration::seconds(step_sec);
    // As `Rig::drive`: tick, upkeep, look, move the clock, let real time pass. 1500 rounds
    // of at least 20 ms: half a minute of real time at the very least.
    for _ in 0..1500 {
        rig.engine.tick().await.unwrap();
        rig.engine.maintain().await.unwrap();
        if done(rig).await {
            return;
        }
        rig.clock.advance(step);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut state = String::new();
    for id in rig.campaign_ids().await {
        let calls = rig.calls(&id).await.unwrap_or_default();
        let attempts = rig.attempts(&id).await.unwrap_or_default();
        state.push_str(&format!(
            "campaign {id}\n calls {calls:#?}\n attempts {attempts:#?}\n"
        ));
    }
    panic!(
        "not done in 1500 rounds: {what}\n{state}\nlivekit-sip:\n{}",
        rig.sip.log()
    );
}

/// Drives until the campaign completed.
pub async fn drive_to_completion(rig: &LiveKitRig, campaign: &str) {
    drive_until(rig, 10, "campaign completed", |rig| {
        let campaign = campaign.to_string();
        async move { rig.campaign_status(&campaign).await.unwrap() == "completed" }.boxed()
    })
    .await
}
