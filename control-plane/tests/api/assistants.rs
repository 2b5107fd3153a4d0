//! Assistants: create, read, version on update, validation, isolation.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_error, id_of, TestApp};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn creating_an_assistant_makes_version_one_with_defaults(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let response = app
        .post(
            "/api/v1/assistants",
            &token,
            &json!({"name": "Sales", "systemPrompt": "Call {{name}} about {{ product }}.",
                    "firstMessage": "Hello {{name}}, this is Sam, an AI assistant.", "tools": {"transferTo": "+1 415 555 2671"}}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["version"], 1);
    assert_eq!(body["language"], "en-US");
    assert_eq!(body["llm"]["provider"], "openai");
    assert_eq!(body["maxDurationSec"], 600);
    assert_eq!(body["tools"]["endCall"], true);
    assert_eq!(body["tools"]["transferTo"], "+14155552671");
    assert_eq!(body["variables"], json!(["name", "product"]));
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn every_update_is_a_new_version_and_old_versions_stay(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let id = app.create_assistant(&token).await;
    for (i, prompt) in ["Second prompt", "Third prompt"].iter().enumerate() {
        let response = app
            .put(
                &format!("/api/v1/assistants/{id}"),
                &token,
                &json!({"name": "Sales", "systemPrompt": prompt,
                        "firstMessage": "Hello, this is Sam, an AI assistant."}),
            )
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["version"], i + 2);
    }
    let current: Value = app
        .get(&format!("/api/v1/assistants/{id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["systemPrompt"], "Third prompt");
    let versions: Value = app
        .get(&format!("/api/v1/assistants/{id}/versions"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(versions["total"], 3);
    assert_eq!(versions["data"][0]["version"], 3);
    assert_eq!(
        versions["data"][2]["systemPrompt"],
        "You call {{name}} about {{product}}."
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn invalid_assistants_are_422_with_each_field_named(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let response = app
        .post(
            "/api/v1/assistants",
            &token,
            &json!({"name": "", "systemPrompt": "Hi {{name", "maxDurationSec": 5,
                    "llm": {"provider": "nope", "model": "x", "temperature": 3.0},
                    "tools": {"transferTo": "12"}}),
        )
        .await;
    let body = assert_error(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for expected in [
        "name",
        "systemPrompt",
        "llm.provider",
        "llm.temperature",
        "maxDurationSec",
        "tools.transferTo",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn assistants_of_another_organization_are_not_found(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let a = app.register("Acme").await;
    let b = app.register("Globex").await;
    let id = app.create_assistant(&a).await;
    let path = format!("/api/v1/assistants/{id}");
    assert_error(app.get(&path, &b).await, 404, "not_found").await;
    assert_error(
        app.put(
            &path,
            &b,
            &json!({"name": "x", "systemPrompt": "y", "firstMessage": "This is Sam, an AI."}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get(&format!("{path}/versions"), &b).await,
        404,
        "not_found",
    )
    .await;
    assert_error(app.delete(&path, &b).await, 404, "not_found").await;
    let list: Value = app
        .get("/api/v1/assistants", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0);
    assert_eq!(app.get(&path, &a).await.status(), 200);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn lists_paginate(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    for _ in 0..5 {
        app.create_assistant(&token).await;
    }
    let page: Value = app
        .get("/api/v1/assistants?page=2&perPage=2", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 5);
    assert_eq!(page["page"], 2);
    assert_eq!(page["perPage"], 2);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let bad = app.get("/api/v1/assistants?perPage=0", &token).await;
    assert_error(bad, 422, "validation_failed").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn deleting_an_assistant_removes_it(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let created = app
        .post(
            "/api/v1/assistants",
            &token,
            &json!({"name": "A", "systemPrompt": "p", "firstMessage": "This is Sam, an AI."}),
        )
        .await;
    let id = id_of(created).await;
    assert_eq!(
        app.delete(&format!("/api/v1/assistants/{id}"), &token)
            .await
            .status(),
        204
    );
    assert_error(
        app.get(&format!("/api/v1/assistants/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
}
