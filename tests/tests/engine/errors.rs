//! Twilio's refusals map to the right attempt results and campaign states.

use chrono::Duration;
use futures::FutureExt;
use outbound_tests::rig::Rig;
use serde_json::json;
use sqlx::PgPool;

use crate::{contact, number, tuesday_morning_new_york};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn too_many_requests_retries_later_without_using_up_attempts(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning_new_york()).await.unwrap();
    rig.twilio.fail_next_creates(3, 20429);
    let campaign = rig
        .start_campaign((0..3).map(contact).collect(), json!({"maxAttempts": 1}))
        .await
        .unwrap();
    let id = campaign.clone();
    rig.drive(Duration::seconds(10), 500, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "completed") }.boxed()
    })
    .await
    .unwrap();
    for attempt in rig.attempts(&campaign).await.unwrap() {
        // One real dial each, although three creates were refused with 20429.
        assert_eq!(attempt["attempts"], 1, "{attempt}");
        assert_eq!(attempt["lastResult"], "answered", "{attempt}");
    }
    for i in 0..3 {
        assert_eq!(rig.twilio.dial_count(&number(i)), 1);
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn refused_credentials_put_the_campaign_in_error_with_the_reason(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning_new_york()).await.unwrap();
    rig.twilio.reject_credentials(true);
    let campaign = rig
        .start_campaign((0..3).map(contact).collect(), json!({}))
        .await
        .unwrap();
    for _ in 0..5 {
        rig.engine.tick().await.unwrap();
        rig.clock.advance(Duration::seconds(5));
    }
    let status = rig
        .get(&format!("/api/v1/campaigns/{campaign}/status"))
        .await
        .unwrap();
    assert_eq!(status["status"], "error", "{status}");
    assert!(
        status["statusReason"]
            .as_str()
            .unwrap()
            .contains("credentials"),
        "{status}"
    );
    // Nothing was used up: once the credentials work, resuming dials everyone.
    for attempt in rig.attempts(&campaign).await.unwrap() {
        assert_eq!(attempt["attempts"], 0, "{attempt}");
        assert_eq!(attempt["state"], "pending", "{attempt}");
    }
    rig.twilio.reject_credentials(false);
    rig.post(&format!("/api/v1/campaigns/{campaign}/resume"), json!({}))
        .await
        .unwrap();
    let id = campaign.clone();
    rig.drive(Duration::seconds(10), 500, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "completed") }.boxed()
    })
    .await
    .unwrap();
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_single_call_is_placed_at_once_and_can_be_ended(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning_new_york()).await.unwrap();
    let campaign = rig
        .start_campaign(vec![contact(0)], json!({}))
        .await
        .unwrap();
    rig.post(&format!("/api/v1/campaigns/{campaign}/pause"), json!({}))
        .await
        .unwrap();
    let to = number(77);
    let call = rig
        .post(
            "/api/v1/calls",
            json!({"to": to, "campaignId": campaign, "variables": {"name": "Ada"}}),
        )
        .await
        .unwrap();
    assert_eq!(call["status"], "queued");
    let dialed = rig
        .twilio
        .wait_for_dial(&to, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let id = call["id"].as_str().unwrap();
    // Wait until the control plane has heard of the answer, then hang up.
    for _ in 0..100 {
        let current = rig.get(&format!("/api/v1/calls/{id}")).await.unwrap();
        if current["status"] == "in_progress" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    rig.post(&format!("/api/v1/calls/{id}/end"), json!({}))
        .await
        .unwrap();
    let ended = rig
        .twilio
        .wait_for_call_end(&dialed.sid, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        ended.ended_by.as_deref(),
        Some("api"),
        "{:?}",
        ended.timeline
    );
    // Ending it again, after it ended, is fine (Twilio's 20404 is not an error).
    rig.post(&format!("/api/v1/calls/{id}/end"), json!({}))
        .await
        .unwrap();
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_single_call_to_a_bad_or_dnc_number_is_refused(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning_new_york()).await.unwrap();
    let campaign = rig
        .start_campaign(vec![contact(0)], json!({}))
        .await
        .unwrap();
    rig.post("/api/v1/dnc", json!({"phone": number(5)}))
        .await
        .unwrap();
    for to in ["not a number", "+1 555 01", number(5).as_str()] {
        let response = rig
            .client
            .post(format!("{}/api/v1/calls", rig.base))
            .bearer_auth(&rig.token)
            .json(&json!({"to": to, "campaignId": campaign}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "to {to}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["details"][0]["field"], "to");
    }
    let missing = rig
        .client
        .post(format!("{}/api/v1/calls", rig.base))
        .bearer_auth(&rig.token)
        .json(&json!({"campaignId": campaign}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 422);
    assert_eq!(rig.twilio.calls().len(), 0);
}
