//! The error contract: status codes and the JSON shape for bad input of every kind.

use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{assert_error, TestApp, TEST_BODY_LIMIT};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn malformed_json_is_400(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let response = app
        .req(Method::POST, "/api/v1/assistants", &token)
        .header(CONTENT_TYPE, "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "malformed_json").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_missing_field_is_422(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let response = app
        .post("/api/v1/assistants", &token, &json!({"name": "No prompt"}))
        .await;
    let body = assert_error(response, 422, "validation_failed").await;
    assert!(body["error"]["details"]
        .to_string()
        .contains("systemPrompt"));
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_wrong_content_type_is_415(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let response = app
        .req(Method::POST, "/api/v1/assistants", &token)
        .header(CONTENT_TYPE, "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_error(response, 415, "unsupported_media_type").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_oversized_body_is_413(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let huge = "x".repeat(TEST_BODY_LIMIT + 1);
    let response = app
        .post(
            "/api/v1/assistants",
            &token,
            &json!({"name": "big", "systemPrompt": huge}),
        )
        .await;
    let body = assert_error(response, 413, "payload_too_large").await;
    // The limit the client ran into, not "larger than 0 bytes".
    assert_eq!(
        body["error"]["message"],
        format!("request body is larger than {TEST_BODY_LIMIT} bytes")
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_nul_character_in_any_text_field_is_a_422_naming_the_field(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let cases = [
        ("/api/v1/contact-lists", json!({"name": "nul\u{0}"}), "name"),
        (
            "/api/v1/dnc",
            json!({"phone": "+12125550142", "reason": "x\u{0}"}),
            "reason",
        ),
        ("/api/v1/api-keys", json!({"name": "k\u{0}"}), "name"),
        (
            "/api/v1/assistants",
            json!({"name": "A", "systemPrompt": "p", "variables": {"a\u{0}": "b"}}),
            "variables.a\\u0000",
        ),
    ];
    for (path, body, field) in cases {
        let response = app.post(path, &token, &body).await;
        let body = assert_error(response, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"][0]["field"], field, "{path}");
    }
    let register = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(
            &json!({"email": "a@b.example", "password": "s3cret-password",
                      "organizationName": "Org\u{0}"}),
        )
        .send()
        .await
        .unwrap();
    let body = assert_error(register, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"][0]["field"], "organizationName");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_page_beyond_any_offset_is_a_422(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    for query in [
        "page=9223372036854775807",
        "page=9223372036854775807&perPage=500",
        "perPage=9223372036854775807",
    ] {
        let response = app
            .get(&format!("/api/v1/contact-lists?{query}"), &token)
            .await;
        assert_error(response, 422, "validation_failed").await;
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_unknown_route_is_a_json_404_and_a_wrong_method_a_405(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    assert_error(
        app.get("/api/v1/nothing-here", &token).await,
        404,
        "route_not_found",
    )
    .await;
    let response = app
        .req(Method::PATCH, "/api/v1/assistants", &token)
        .send()
        .await
        .unwrap();
    assert_error(response, 405, "method_not_allowed").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_malformed_id_is_400(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    assert_error(
        app.get("/api/v1/assistants/not-a-uuid", &token).await,
        400,
        "bad_request",
    )
    .await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn health_ready_and_metrics_answer(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("control_plane_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/ready\""), "{text}");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn text_longer_than_its_limit_is_a_422_naming_the_field(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let long = |n: usize| "x".repeat(n);
    let cases = [
        (
            "/api/v1/assistants",
            json!({"name": "A", "systemPrompt": long(20_001)}),
            "systemPrompt",
        ),
        (
            "/api/v1/assistants",
            json!({"name": "A", "systemPrompt": "p", "firstMessage": long(2_001)}),
            "firstMessage",
        ),
        (
            "/api/v1/assistants",
            json!({"name": long(201), "systemPrompt": "p"}),
            "name",
        ),
        // Any field, whatever its own rules: the JSON extractor's cap.
        (
            "/api/v1/contact-lists",
            json!({"name": "L", "description": long(40_000)}),
            "description",
        ),
    ];
    for (path, body, field) in cases {
        let response = app.post(path, &token, &body).await;
        let body = assert_error(response, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"][0]["field"], field, "{path}");
    }
    // At the limit is fine.
    let response = app
        .post(
            "/api/v1/assistants",
            &token,
            &json!({"name": "A", "systemPrompt": long(20_000),
                    "firstMessage": "This is Sam, an AI."}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let register = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(
            &json!({"email": "a@b.example", "password": "s3cret-password",
                      "organizationName": long(201)}),
        )
        .send()
        .await
        .unwrap();
    let body = assert_error(register, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"][0]["field"], "organizationName");
}
