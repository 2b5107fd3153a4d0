//! `POST /webhooks/livekit`: only events signed with the control plane's LiveKit key are
//! believed, and repeated or late events never move a finished call backwards. The events
//! here are signed by the test's own JWT code (an independent check of the scheme), on a
//! real answered call.

use base64::Engine;
use futures::FutureExt;
use outbound_tests::livekit::{jwt_hs256, Callee, Scenario};
use outbound_tests::rig::livekit::LiveKitRig;
use serde_json::{json, Value};
use sha2::Digest;
use sqlx::PgPool;

use crate::{contact, drive_until, now};

/// LiveKit's webhook token: iss = key, sha256 = base64 of the body's SHA-256.
fn signed(body: &str, key: &str, secret: &str) -> String {
    let hash = sha2::Sha256::digest(body.as_bytes());
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": key, "nbf": now - 5, "exp": now + 300,
                        "sha256": base64::engine::general_purpose::STANDARD.encode(hash)});
    jwt_hs256(&claims, secret.as_bytes())
}

async fn post(rig: &LiveKitRig, body: &str, authorization: Option<String>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("{}/webhooks/livekit", rig.api.base))
        .header("content-type", "application/webhook+json")
        .body(body.to_string());
    if let Some(token) = authorization {
        request = request.header("authorization", token);
    }
    request.send().await.unwrap().status().as_u16()
}

fn event(kind: &str, room: &str, call_status: &str, id: &str) -> String {
    json!({"event": kind, "id": id, "createdAt": "1700000000",
           "room": {"sid": "RM_test", "name": room},
           "participant": {"sid": "PA_callee", "identity": "callee", "kind": "SIP",
                           "attributes": {"sip.callStatus": call_status}}})
    .to_string()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn only_signed_events_count_and_late_ones_never_move_a_call_back(db: PgPool) {
    let rig = LiveKitRig::start(db, now(), 10).await.unwrap();
    let _worker = rig.worker().await;
    let callee = Callee::start(Scenario::Answer { ring_ms: 100 })
        .await
        .unwrap();
    let campaign = rig
        .campaign_to(&callee, vec![contact(20)], json!({}))
        .await
        .unwrap();
    drive_until(&rig, 1, "the call is answered", |rig| {
        let campaign = campaign.clone();
        async move {
            let calls = rig.calls(&campaign).await.unwrap();
            calls.first().is_some_and(|c| c["status"] == "in_progress")
        }
        .boxed()
    })
    .await;
    let call = rig.calls(&campaign).await.unwrap().remove(0);
    let id = call["id"].as_str().unwrap().to_string();
    let room = format!("call-{id}");
    let (key, secret) = (rig.livekit.api_key.clone(), rig.livekit.api_secret.clone());
    let left = event("participant_left", &room, "hangup", "EV_left");

    // Unsigned, signed with another secret, or signed for another body: refused.
    assert_eq!(post(&rig, &left, None).await, 401);
    let forged = signed(&left, &key, "another-secret-of-at-least-32-characters");
    assert_eq!(post(&rig, &left, Some(forged)).await, 401);
    let other_body = event("participant_left", &room, "hangup", "EV_other");
    assert_eq!(
        post(&rig, &left, Some(signed(&other_body, &key, &secret))).await,
        401
    );
    let status: String = sqlx::query_scalar("select status from calls where id = $1::uuid")
        .bind(&id)
        .fetch_one(&rig.db)
        .await
        .unwrap();
    assert_eq!(status, "in_progress", "a refused event changed nothing");

    // Signed: the callee left, twice; then a late `joined` arrives. The call ends once.
    let token = signed(&left, &key, &secret);
    assert_eq!(post(&rig, &left, Some(token.clone())).await, 204);
    assert_eq!(post(&rig, &left, Some(token)).await, 204);
    let joined = event("participant_joined", &room, "active", "EV_joined");
    assert_eq!(
        post(&rig, &joined, Some(signed(&joined, &key, &secret))).await,
        204
    );
    let call = rig.calls(&campaign).await.unwrap().remove(0);
    assert_eq!(call["status"], "completed", "{call}");
    let attempt: Value = rig.attempts(&campaign).await.unwrap().remove(0);
    assert_eq!(attempt["state"], "done", "{attempt}");
    assert_eq!(attempt["lastResult"], "answered");
    let history: Value = sqlx::query_scalar(
        "select result_history from campaign_attempts where last_call_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&rig.db)
    .await
    .unwrap();
    assert_eq!(
        history.as_array().unwrap().len(),
        1,
        "settled once: {history}"
    );
    // Events for rooms that are not calls are accepted and ignored.
    let stranger = event("participant_left", "someone-elses-room", "hangup", "EV_x");
    assert_eq!(
        post(&rig, &stranger, Some(signed(&stranger, &key, &secret))).await,
        204
    );
}
