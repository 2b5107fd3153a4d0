//! `/api/v1/metrics`: the organization's numbers from calls and provider usage rows.

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::calls::{insert_call, CallSeed};
use crate::campaigns::org;
use crate::helpers::TestApp;
use shared::CallStatus;

/// Records provider usage for a call.
pub async fn usage(
    app: &TestApp,
    org_id: Uuid,
    call_id: Uuid,
    kind: &str,
    requests: i64,
    errors: i64,
) {
    sqlx::query!(
        "insert into provider_usage (call_id, org_id, kind, requests, errors) values ($1, $2, $3, $4, $5)",
        call_id,
        org_id,
        kind,
        requests,
        errors
    )
    .execute(&app.db)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_organization_without_calls_has_zero_everything(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let metrics: Value = app
        .get("/api/v1/metrics", &org.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        metrics,
        json!({"callsStarted": 0, "callsCompleted": 0, "callsFailed": 0,
               "sttRequests": 0, "sttErrors": 0, "llmRequests": 0, "llmErrors": 0,
               "ttsRequests": 0, "ttsErrors": 0, "avgCallDurationSec": 0.0, "successRate": 0.0})
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn metrics_count_calls_and_sum_provider_usage(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let call = |status, duration_sec| CallSeed {
        status,
        duration_sec,
        ..CallSeed::default()
    };
    let first = insert_call(&app, org.id, call(CallStatus::Completed, Some(90))).await;
    let second = insert_call(&app, org.id, call(CallStatus::Completed, Some(30))).await;
    insert_call(&app, org.id, call(CallStatus::Failed, None)).await;
    insert_call(&app, org.id, call(CallStatus::Busy, None)).await;
    insert_call(&app, org.id, call(CallStatus::Ringing, None)).await;
    insert_call(&app, org.id, call(CallStatus::Queued, None)).await;
    usage(&app, org.id, first, "stt", 10, 1).await;
    usage(&app, org.id, second, "stt", 5, 0).await;
    usage(&app, org.id, first, "llm", 7, 2).await;
    usage(&app, org.id, first, "tts", 6, 0).await;
    usage(&app, org.id, second, "tts", 4, 3).await;

    let metrics: Value = app
        .get("/api/v1/metrics", &org.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(metrics["callsStarted"], 5, "all but the queued one");
    assert_eq!(metrics["callsCompleted"], 2);
    assert_eq!(metrics["callsFailed"], 1);
    assert_eq!(metrics["sttRequests"], 15);
    assert_eq!(metrics["sttErrors"], 1);
    assert_eq!(metrics["llmRequests"], 7);
    assert_eq!(metrics["llmErrors"], 2);
    assert_eq!(metrics["ttsRequests"], 10);
    assert_eq!(metrics["ttsErrors"], 3);
    assert_eq!(metrics["avgCallDurationSec"], 60.0);
    assert_eq!(metrics["successRate"], 0.5, "2 completed of 4 ended");
}
