//! Twilio webhooks: signatures are enforced, and callbacks move a call forward only.

use control_plane::webhooks::twilio::signature;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::TestApp;

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const AUTH_TOKEN: &str = "trunk-auth-token";

/// A trunk that carries its own Twilio account, and a call on it.
async fn call_on_own_account(app: &TestApp) -> (Uuid, String) {
    let token = app.register("Acme").await;
    let trunk: Value = app
        .post(
            "/api/v1/trunks",
            &token,
            &json!({"name": "T", "provider": "twilio", "mode": "twilio_stream",
                    "numbers": ["+12125550100"], "accountSid": ACCOUNT, "authToken": AUTH_TOKEN}),
        )
        .await
        .json()
        .await
        .unwrap();
    let trunk_id: Uuid = trunk["id"].as_str().unwrap().parse().unwrap();
    let call = Uuid::now_v7();
    sqlx::query(
        "insert into calls (id, org_id, trunk_id, mode, to_phone)
         select $1, org_id, id, 'twilio_stream', '+12125550142' from trunks where id = $2",
    )
    .bind(call)
    .bind(trunk_id)
    .execute(&app.db)
    .await
    .unwrap();
    (call, token)
}

async fn post_status(app: &TestApp, call: Uuid, status: &str, seq: u32, sign_with: &str) -> u16 {
    let path = format!("/webhooks/twilio/status?callId={call}");
    let params: Vec<(String, String)> = [
        ("AccountSid", ACCOUNT.to_string()),
        ("CallSid", "CA00000000000000000000000000000042".to_string()),
        ("CallStatus", status.to_string()),
        ("SequenceNumber", seq.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The control plane checks against its public URL (test settings: http://127.0.0.1).
    let signature = signature::sign(sign_with, &format!("http://127.0.0.1{path}"), &params);
    app.client
        .post(app.url(&path))
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn status_of(app: &TestApp, call: Uuid) -> String {
    sqlx::query_scalar("select status from calls where id = $1")
        .bind(call)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_callback_with_a_bad_or_missing_signature_is_refused(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (call, _) = call_on_own_account(&app).await;
    assert_eq!(
        post_status(&app, call, "ringing", 1, "wrong-token").await,
        403
    );
    let unsigned = app
        .client
        .post(app.url(&format!("/webhooks/twilio/status?callId={call}")))
        .form(&[("AccountSid", ACCOUNT), ("CallStatus", "ringing")])
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(status_of(&app, call).await, "queued");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn callbacks_move_a_call_forward_only_whatever_their_order(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (call, _) = call_on_own_account(&app).await;
    assert_eq!(post_status(&app, call, "ringing", 1, AUTH_TOKEN).await, 204);
    assert_eq!(
        post_status(&app, call, "in-progress", 2, AUTH_TOKEN).await,
        204
    );
    // A late `initiated` and a repeated `ringing` change nothing.
    assert_eq!(
        post_status(&app, call, "initiated", 0, AUTH_TOKEN).await,
        204
    );
    assert_eq!(post_status(&app, call, "ringing", 1, AUTH_TOKEN).await, 204);
    assert_eq!(status_of(&app, call).await, "in_progress");
    assert_eq!(
        post_status(&app, call, "completed", 3, AUTH_TOKEN).await,
        204
    );
    assert_eq!(post_status(&app, call, "busy", 3, AUTH_TOKEN).await, 204);
    assert_eq!(status_of(&app, call).await, "completed");
    let sid: Option<String> =
        sqlx::query_scalar("select provider_call_id from calls where id = $1")
            .bind(call)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(sid.as_deref(), Some("CA00000000000000000000000000000042"));
}
