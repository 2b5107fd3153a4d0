//! The pre-dial check: the customer's "no" skips a contact, a timeout falls back to the
//! campaign's default, and every verdict is one of the attempt's recorded decisions.

use std::time::Duration;

use outbound_tests::rig::Rig;
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;

use crate::receiver::{PreDial, Receiver};
use crate::{contact, endpoint, number, quick_webhooks, tuesday_morning};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_pre_dial_no_skips_the_contact_and_a_timeout_takes_the_default(db: PgPool) {
    let rig = Rig::start_with(db, tuesday_morning(), quick_webhooks)
        .await
        .unwrap();
    let receiver = Receiver::start(0).await;
    let (endpoint_id, secret) = endpoint(&rig.api, &receiver.url(), &["call.report"]).await;
    receiver.set_secret(&secret);
    receiver.answer_pre_dial(&number(0), PreDial::Eligible);
    receiver.answer_pre_dial(&number(1), PreDial::Ineligible);
    receiver.answer_pre_dial(&number(2), PreDial::Slow(Duration::from_millis(1500)));
    for i in 0..3 {
        rig.twilio
            .register_callee(&number(i), CalleeScript::answer());
    }
    let campaign = rig
        .start_campaign((0..3).map(contact).collect(), json!({"maxAttempts": 1}))
        .await
        .unwrap();
    let check = rig
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/campaigns/{campaign}/pre-dial-check"),
            Some(json!({"endpointId": endpoint_id, "timeoutMs": 300,
                        "defaultAnswer": "ineligible"})),
        )
        .await
        .unwrap();
    assert_eq!(check.0, 200, "{}", check.1);
    assert_eq!(check.1["defaultAnswer"], "ineligible");

    let id = campaign.clone();
    rig.drive(chrono::Duration::seconds(20), 300, move |rig| {
        let id = id.clone();
        Box::pin(async move { Ok(rig.campaign_status(&id).await? == "completed") })
    })
    .await
    .unwrap();

    // Only the eligible contact was dialed.
    assert_eq!(rig.twilio.dial_count(&number(0)), 1);
    assert_eq!(rig.twilio.dial_count(&number(1)), 0);
    assert_eq!(rig.twilio.dial_count(&number(2)), 0);
    let attempts = rig.attempts(&campaign).await.unwrap();
    let of = |phone: String| {
        attempts
            .iter()
            .find(|a| a["phone"] == phone.as_str())
            .unwrap()
            .clone()
    };
    let decisions = |a: &serde_json::Value| -> Vec<(String, String)> {
        a["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["decision"].as_str().unwrap().to_string(),
                    d["detail"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let yes = of(number(0));
    assert!(decisions(&yes)
        .iter()
        .any(|(d, detail)| d == "pre_dial_eligible" && detail == "answered true"));
    let no = of(number(1));
    assert_eq!(no["state"], "skipped");
    assert!(decisions(&no).iter().any(
        |(d, detail)| d == "skipped_pre_dial" && detail == "answered false: already a customer"
    ));
    let slow = of(number(2));
    assert_eq!(slow["state"], "skipped");
    assert!(
        decisions(&slow)
            .iter()
            .any(|(d, detail)| d == "skipped_pre_dial"
                && detail.contains("default")
                && detail.contains("in time")),
        "{:?}",
        decisions(&slow)
    );
    // Each check was signed (the receiver verified it) and said who is to be dialed.
    let seen = receiver.pre_dial_seen();
    assert_eq!(seen.len(), 3);
    assert!(seen
        .iter()
        .all(|e| e["data"]["campaignId"] == campaign.as_str() && e["data"]["attempt"] == 1));
    assert_eq!(receiver.rejected(), 0);
}
