//! Tenant isolation for trunks, campaigns, calls and metrics: another organization's ids
//! are 404 on every endpoint, its rows never appear in lists or counts, and nothing of it
//! changes.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::calls::{call_with_artifacts, insert_call, CallSeed};
use crate::campaigns::{campaign_body, create_campaign, org};
use crate::helpers::{assert_error, TestApp};
use crate::metrics::usage;
use crate::trunks::{create_trunk, sip_trunk};

async fn total(app: &TestApp, path: &str, token: &str) -> Value {
    let body: Value = app.get(path, token).await.json().await.unwrap();
    body["total"].clone()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn another_organizations_trunks_are_not_found(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let a = org(&app, "Acme").await;
    let b = org(&app, "Globex").await;
    let id = create_trunk(&app, &a.token).await;
    let path = format!("/api/v1/trunks/{id}");
    assert_error(app.get(&path, &b.token).await, 404, "not_found").await;
    assert_error(
        app.put(&path, &b.token, &sip_trunk()).await,
        404,
        "not_found",
    )
    .await;
    assert_error(app.delete(&path, &b.token).await, 404, "not_found").await;
    assert_eq!(total(&app, "/api/v1/trunks", &b.token).await, 0);
    let still: Value = app.get(&path, &a.token).await.json().await.unwrap();
    assert_eq!(still["name"], "Main SIP");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn another_organizations_campaigns_are_not_found_on_any_endpoint(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let a = org(&app, "Acme").await;
    let b = org(&app, "Globex").await;
    let campaign = create_campaign(&app, &a, 2).await;
    insert_call(
        &app,
        a.id,
        CallSeed {
            campaign_id: Some(campaign.uuid()),
            ..CallSeed::default()
        },
    )
    .await;
    for tail in ["", "/status", "/stats", "/calls"] {
        let response = app.get(&campaign.path(tail), &b.token).await;
        assert_error(response, 404, "not_found").await;
    }
    for action in ["start", "pause", "resume", "stop"] {
        let response = app
            .post(&campaign.path(&format!("/{action}")), &b.token, &json!({}))
            .await;
        assert_error(response, 404, "not_found").await;
    }
    // B's own references, so only the campaign id is foreign.
    let mine = create_campaign(&app, &b, 0).await;
    let body = campaign_body(&mine.assistant_id, mine.list_id, &mine.trunk_id);
    assert_error(
        app.put(&campaign.path(""), &b.token, &body).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.delete(&campaign.path(""), &b.token).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(total(&app, "/api/v1/campaigns", &b.token).await, 1);

    let untouched: Value = app
        .get(&campaign.path(""), &a.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(untouched["status"], "draft");
    assert_eq!(untouched["name"], "Spring renewals");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn another_organizations_calls_are_not_found_and_not_listed(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let a = org(&app, "Acme").await;
    let b = org(&app, "Globex").await;
    let call = call_with_artifacts(&app, &a).await;
    let path = format!("/api/v1/calls/{call}");
    for tail in ["", "/transcript", "/recordings"] {
        let response = app.get(&format!("{path}{tail}"), &b.token).await;
        assert_error(response, 404, "not_found").await;
    }
    let response = app
        .put(
            &format!("{path}/outcome"),
            &b.token,
            &json!({"outcome": "interested"}),
        )
        .await;
    assert_error(response, 404, "not_found").await;
    assert_eq!(total(&app, "/api/v1/calls", &b.token).await, 0);
    assert_eq!(
        total(&app, "/api/v1/calls?status=completed", &b.token).await,
        0
    );
    let untouched: Value = app.get(&path, &a.token).await.json().await.unwrap();
    assert_eq!(untouched["outcome"], Value::Null);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn metrics_count_only_the_callers_organization(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let a = org(&app, "Acme").await;
    let b = org(&app, "Globex").await;
    let call = insert_call(
        &app,
        a.id,
        CallSeed {
            duration_sec: Some(45),
            ..CallSeed::default()
        },
    )
    .await;
    usage(&app, a.id, call, "llm", 3, 1).await;
    let theirs: Value = app
        .get("/api/v1/metrics", &b.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["callsStarted"], 0);
    assert_eq!(theirs["callsCompleted"], 0);
    assert_eq!(theirs["llmRequests"], 0);
    assert_eq!(theirs["avgCallDurationSec"], 0.0);
    let ours: Value = app
        .get("/api/v1/metrics", &a.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ours["callsCompleted"], 1);
    assert_eq!(ours["llmRequests"], 3);
}
