//! Texts: sent from the API and delivered; a contact who texts STOP is never dialed or
//! texted again by any campaign until it texts START.

use crate::{setup, wait_for, CALLER, OURS};
use chrono::{TimeZone, Utc};
use futures::FutureExt;
use outbound_tests::rig::Rig;
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;

/// Tuesday 2026-11-24 15:00 UTC: 10:00 in New York, inside the rig's calling hours.
fn tuesday_morning() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

const OTHER: &str = "+12123000002";

/// Runs a campaign over `contacts` to completion on the manual clock.
async fn run_campaign(rig: &Rig, contacts: &[&str]) {
    let contacts = contacts
        .iter()
        .map(|p| json!({"phone": p, "timezone": "America/New_York"}))
        .collect();
    let campaign = rig
        .start_campaign(contacts, json!({"maxAttempts": 1}))
        .await
        .unwrap();
    rig.drive(chrono::Duration::seconds(5), 400, |rig| {
        let campaign = campaign.clone();
        async move { Ok(rig.campaign_status(&campaign).await? == "completed") }.boxed()
    })
    .await
    .unwrap();
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_contact_who_texts_stop_is_never_dialed_or_texted_again_until_start(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning()).await.unwrap();
    let made = setup(&rig.api, &rig.twilio, json!({})).await;
    for phone in [CALLER, OTHER] {
        rig.twilio.register_callee(phone, CalleeScript::answer());
    }

    // Texting works: sent from our number, delivered.
    let (status, sent) = rig
        .request(
            reqwest::Method::POST,
            "/api/v1/messages",
            Some(json!({"to": CALLER, "body": "Your appointment is tomorrow at 10."})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["from"], OURS);
    assert_eq!(sent["contactId"], made.contact_id.as_str());
    let id = sent["id"].as_str().unwrap();
    wait_for(
        &rig.api,
        &format!("/api/v1/messages/{id}"),
        "delivered",
        |m| m["status"] == "delivered",
    )
    .await;

    // STOP: stored with the contact, and the number is on the DNC list.
    let (_, answer) = rig.twilio.send_sms(CALLER, OURS, "Stop").await.unwrap();
    assert_eq!(answer, 200);
    let texts = rig
        .get(&format!("/api/v1/contacts/{}/messages", made.contact_id))
        .await
        .unwrap();
    assert_eq!(texts["data"][0]["direction"], "inbound");
    assert_eq!(texts["data"][0]["body"], "Stop");
    assert_eq!(texts["data"][0]["status"], "received");
    let dnc = rig.get("/api/v1/dnc?phone=%2B12123000001").await.unwrap();
    assert_eq!(dnc["total"], 1, "{dnc}");
    // Texting them is refused before Twilio is asked.
    let (status, refused) = rig
        .request(
            reqwest::Method::POST,
            "/api/v1/messages",
            Some(json!({"to": CALLER, "body": "One more thing"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["details"][0]["field"], "to");
    // No campaign dials them; the others are dialed.
    run_campaign(&rig, &[CALLER, OTHER]).await;
    assert_eq!(rig.twilio.dial_count(CALLER), 0);
    assert_eq!(rig.twilio.dial_count(OTHER), 1);

    // START lets them back in: texts and dials reach them again.
    rig.twilio.send_sms(CALLER, OURS, "START").await.unwrap();
    let dnc = rig.get("/api/v1/dnc?phone=%2B12123000001").await.unwrap();
    assert_eq!(dnc["total"], 0, "{dnc}");
    let (status, sent) = rig
        .request(
            reqwest::Method::POST,
            "/api/v1/messages",
            Some(json!({"to": CALLER, "body": "Welcome back"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{sent}");
    let id = sent["id"].as_str().unwrap();
    wait_for(
        &rig.api,
        &format!("/api/v1/messages/{id}"),
        "delivered",
        |m| m["status"] == "delivered",
    )
    .await;
    run_campaign(&rig, &[CALLER]).await;
    assert_eq!(rig.twilio.dial_count(CALLER), 1);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn start_does_not_lift_a_number_an_operator_listed_and_undelivered_texts_say_why(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning()).await.unwrap();
    setup(&rig.api, &rig.twilio, json!({})).await;
    rig.post(
        "/api/v1/dnc",
        json!({"phone": CALLER, "reason": "legal request"}),
    )
    .await
    .unwrap();
    rig.twilio.send_sms(CALLER, OURS, "START").await.unwrap();
    let dnc = rig.get("/api/v1/dnc?phone=%2B12123000001").await.unwrap();
    assert_eq!(dnc["total"], 1, "an opt-in lifts only an opt-out: {dnc}");

    // A text to a handset that is off ends undelivered with the carrier's code.
    rig.twilio.make_undeliverable(OTHER);
    let sent = rig
        .post("/api/v1/messages", json!({"to": OTHER, "body": "Hello"}))
        .await
        .unwrap();
    let id = sent["id"].as_str().unwrap();
    let message = wait_for(
        &rig.api,
        &format!("/api/v1/messages/{id}"),
        "undelivered",
        |m| m["status"] == "undelivered",
    )
    .await;
    assert_eq!(message["errorCode"], 30003);
}
