//! Registration, login, API keys and the 401s.

use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_error, TestApp};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn register_then_login_returns_a_working_token(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let registered = app.register_full("Acme").await;
    assert_eq!(registered["organization"]["name"], "Acme");
    assert_eq!(registered["user"]["email"], "owner@acme.example.com");

    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "OWNER@acme.example.com", "password": "s3cret-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert_eq!(body["organization"]["id"], registered["organization"]["id"]);
    assert_eq!(app.get("/api/v1/assistants", token).await.status(), 200);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn login_with_a_wrong_password_or_unknown_email_is_401(db: PgPool) {
    let app = TestApp::spawn(db).await;
    app.register("Acme").await;
    for (email, password) in [
        ("owner@acme.example.com", "wrong-password"),
        ("nobody@acme.example.com", "s3cret-password"),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_error(response, 401, "unauthorized").await;
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn registering_an_email_twice_is_a_conflict(db: PgPool) {
    let app = TestApp::spawn(db).await;
    app.register("Acme").await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": "owner@acme.example.com", "password": "another-password", "organizationName": "Other"}))
        .send()
        .await
        .unwrap();
    assert_error(response, 409, "conflict").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn register_validates_every_field_at_once(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": "not-an-email", "password": "short", "organizationName": " "}))
        .send()
        .await
        .unwrap();
    let body = assert_error(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password", "organizationName"]);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn requests_without_valid_credentials_are_401(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let no_auth = app
        .client
        .get(app.url("/api/v1/assistants"))
        .send()
        .await
        .unwrap();
    assert_error(no_auth, 401, "unauthorized").await;
    for token in [
        "garbage",
        "ocp_0000000000000000",
        "eyJhbGciOiJIUzI1NiJ9.e30.x",
    ] {
        assert_error(
            app.get("/api/v1/assistants", token).await,
            401,
            "unauthorized",
        )
        .await;
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_api_key_works_until_it_is_revoked_and_is_shown_only_once(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let created = app
        .post("/api/v1/api-keys", &token, &json!({"name": "ci"}))
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();

    assert_eq!(app.get("/api/v1/assistants", &key).await.status(), 200);

    let list: Value = app
        .get("/api/v1/api-keys", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["name"], "ci");
    assert!(
        !list.to_string().contains(&key),
        "the key must never be listed"
    );
    assert!(key.starts_with(list["data"][0]["prefix"].as_str().unwrap()));
    let stored: String = sqlx::query_scalar("select key_hash from api_keys")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_ne!(stored, key);

    let revoked = app
        .req(Method::DELETE, &format!("/api/v1/api-keys/{id}"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_error(
        app.get("/api/v1/assistants", &key).await,
        401,
        "unauthorized",
    )
    .await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn api_keys_of_another_organization_are_not_found(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let a = app.register("Acme").await;
    let b = app.register("Globex").await;
    let created: Value = app
        .post("/api/v1/api-keys", &a, &json!({"name": "ci"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let response = app.delete(&format!("/api/v1/api-keys/{id}"), &b).await;
    assert_error(response, 404, "not_found").await;
    let list: Value = app.get("/api/v1/api-keys", &b).await.json().await.unwrap();
    assert_eq!(list["total"], 0);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_api_key_cannot_mint_further_api_keys(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let created: Value = app
        .post("/api/v1/api-keys", &token, &json!({"name": "ci"}))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    let minted = app
        .post("/api/v1/api-keys", key, &json!({"name": "successor"}))
        .await;
    assert_error(minted, 403, "forbidden").await;
    let list: Value = app
        .get("/api/v1/api-keys", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
}

/// The median time of five logins as `email`.
async fn login_time(app: &TestApp, email: &str) -> std::time::Duration {
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(response.status(), 401);
    }
    times.sort();
    times[2]
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_unknown_email_takes_as_long_as_a_wrong_password(db: PgPool) {
    let app = TestApp::spawn(db).await;
    app.register("Acme").await;
    // Warm the dummy hash (made once per process) and the connections.
    login_time(&app, "nobody@acme.example.com").await;
    let wrong_password = login_time(&app, "owner@acme.example.com").await;
    let unknown_email = login_time(&app, "nobody@acme.example.com").await;
    // Both verify one argon2 hash; a lookup alone is an order of magnitude faster. The
    // ratio is generous so that a busy machine does not fail it.
    let ratio = unknown_email.as_secs_f64() / wrong_password.as_secs_f64();
    eprintln!("login: wrong password {wrong_password:?}, unknown email {unknown_email:?}, ratio {ratio:.2}");
    assert!(
        ratio > 0.4,
        "unknown email {unknown_email:?} vs wrong password {wrong_password:?}"
    );
}

#[tokio::test]
async fn the_binary_path_refuses_the_built_in_secrets_before_connecting() {
    // No database listens on port 1: the refusal must come first.
    let settings =
        control_plane::config::Settings::defaults("postgres://postgres@127.0.0.1:1/none").unwrap();
    let err = control_plane::app::Application::build(settings)
        .await
        .err()
        .expect("the built-in secrets must be refused");
    assert!(
        err.to_string().contains("built-in development secret"),
        "{err:#}"
    );
}
