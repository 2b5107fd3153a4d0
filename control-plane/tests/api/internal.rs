//! The workers' internal API: the job, ordered idempotent events, tokens, heartbeats.

use serde_json::{json, Value};
use shared::token::CallTokens;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{assert_error, TestApp, TEST_WORKER_KEY};

/// The token secret `test_settings` configures.
fn tokens() -> CallTokens {
    CallTokens::new(b"test-worker-token-secret")
}

fn in_an_hour() -> i64 {
    chrono::Utc::now().timestamp() + 3600
}

/// A call of `org` with a fresh assistant; returns (call id, org id, token).
async fn call_with_token(app: &TestApp, org: &str) -> (Uuid, Uuid, String) {
    let registered = app.register_full(org).await;
    let token = registered["token"].as_str().unwrap();
    let org_id: Uuid = registered["organization"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let assistant: Uuid = app.create_assistant(token).await.parse().unwrap();
    let call = Uuid::now_v7();
    sqlx::query(
        "insert into calls (id, org_id, assistant_id, assistant_version, mode, to_phone, variables)
         values ($1, $2, $3, 1, 'twilio_stream', '+12125550142', $4)",
    )
    .bind(call)
    .bind(org_id)
    .bind(assistant)
    .bind(json!({"name": "Ada", "product": "Pro"}))
    .execute(&app.db)
    .await
    .unwrap();
    (call, org_id, tokens().mint(call, org_id, in_an_hour()))
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_job_renders_the_prompt_for_the_call_it_was_minted_for(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (call, _, token) = call_with_token(&app, "Acme").await;
    let job: Value = app
        .get(&format!("/internal/v1/calls/{call}/job"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(job["systemPrompt"], "You call Ada about Pro.");
    assert_eq!(job["firstMessage"], "Hi Ada, this is Sam, an AI assistant.");
    assert_eq!(job["mode"], "twilio_stream");
    assert_eq!(job["to"], "+12125550142");
    assert!(job["eventsUrl"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/internal/v1/calls/{call}/events")));

    let (other, _, _) = call_with_token(&app, "Globex").await;
    let wrong = app
        .get(&format!("/internal/v1/calls/{other}/job"), &token)
        .await;
    assert_error(wrong, 403, "forbidden").await;
    let none = app
        .get(&format!("/internal/v1/calls/{call}/job"), "garbage")
        .await;
    assert_error(none, 401, "unauthorized").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn events_apply_once_each_and_in_order(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (call, org, token) = call_with_token(&app, "Acme").await;
    let path = format!("/internal/v1/calls/{call}/events");
    let batch = json!({"events": [
        {"seq": 1, "atMs": 0, "type": "transcript", "speaker": "agent", "text": "Hi Ada!",
         "startMs": 0, "endMs": 900, "confidence": null},
        {"seq": 2, "atMs": 1500, "type": "transcript", "speaker": "callee", "text": "Not now.",
         "startMs": 1200, "endMs": 2000, "confidence": 0.93},
        {"seq": 3, "atMs": 2100, "type": "outcome", "outcome": "do_not_call", "notes": "asked"},
    ]});
    let first: Value = app.post(&path, &token, &batch).await.json().await.unwrap();
    assert_eq!(first["acknowledged"], 3);
    // A retried delivery changes nothing.
    let again: Value = app.post(&path, &token, &batch).await.json().await.unwrap();
    assert_eq!(again["acknowledged"], 3);
    // A gap is refused so the worker resends from the expected number.
    let gap = app
        .post(
            &path,
            &token,
            &json!({"events": [{"seq": 5, "atMs": 3000, "type": "ended", "reason": "x"}]}),
        )
        .await;
    assert_error(gap, 409, "conflict").await;

    let session = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "owner@acme.example.com", "password": "s3cret-password"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let transcript: Value = app
        .get(&format!("/api/v1/calls/{call}/transcript"), &session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(transcript["entries"].as_array().unwrap().len(), 2);
    let view: Value = app
        .get(&format!("/api/v1/calls/{call}"), &session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["outcome"], "do_not_call");
    // Outcome do_not_call put the number on the organization's DNC list.
    let on_dnc: bool = sqlx::query_scalar(
        "select exists(select 1 from dnc where org_id = $1 and phone = '+12125550142')",
    )
    .bind(org)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(on_dnc);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn heartbeats_need_the_worker_key_and_show_up_in_the_workers_list(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let beat = json!({"workerId": "w1", "mode": "twilio_stream", "capacity": 8, "activeCalls": 3});
    let refused = app
        .post("/internal/v1/workers/heartbeat", "wrong-key", &beat)
        .await;
    assert_error(refused, 401, "unauthorized").await;
    let accepted = app
        .post("/internal/v1/workers/heartbeat", TEST_WORKER_KEY, &beat)
        .await;
    assert_eq!(accepted.status(), 200);
    let bad = app
        .post(
            "/internal/v1/workers/heartbeat",
            TEST_WORKER_KEY,
            &json!({"workerId": "", "mode": "carrier-pigeon", "capacity": -1, "activeCalls": 0}),
        )
        .await;
    assert_error(bad, 422, "validation_failed").await;
    let workers: Value = app
        .get("/api/v1/workers", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(workers["data"][0]["id"], "w1");
    assert_eq!(workers["data"][0]["capacity"], 8);
    assert_eq!(workers["data"][0]["alive"], true);
}
