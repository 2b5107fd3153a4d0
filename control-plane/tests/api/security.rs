//! Hardening: security headers and CORS on every answer, and the abuse limits (sign-in
//! throttling and lockout, API rate limits), reached with small configured values.

use reqwest::{Method, Response};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_error, TestApp};

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn every_answer_carries_the_security_headers(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    for response in [
        app.get("/api/v1/assistants", &token).await,
        app.get("/api/v1/assistants", "bad-token").await,
        app.get("/api/v1/nothing-here", &token).await,
    ] {
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&response, "x-frame-options"), Some("DENY"));
        assert_eq!(header(&response, "cache-control"), Some("no-store"));
        let csp = header(&response, "content-security-policy").unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        // The public URL is plain http here: no HSTS.
        assert_eq!(header(&response, "strict-transport-security"), None);
    }
    // The docs page may load the Scalar bundle it is made of, and nothing else foreign.
    let docs = app
        .client
        .get(app.url("/api/v1/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let csp = header(&docs, "content-security-policy")
        .unwrap()
        .to_string();
    let page = docs.text().await.unwrap();
    assert!(page.contains("https://cdn.jsdelivr.net/npm/@scalar/api-reference"));
    assert!(csp.contains("script-src https://cdn.jsdelivr.net"), "{csp}");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn hsts_is_sent_when_the_public_url_is_https(db: PgPool) {
    let app = TestApp::spawn_with(db, |s| {
        s.server.public_url = "https://calls.example.com".into()
    })
    .await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert!(header(&response, "strict-transport-security")
        .unwrap()
        .starts_with("max-age="));
}

async fn preflight(app: &TestApp, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url("/api/v1/assistants"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn cors_answers_allowed_origins_only(db: PgPool) {
    let app = TestApp::spawn_with(db, |s| {
        s.server.cors_allowed_origins = "https://app.example.com, https://admin.example.com".into()
    })
    .await;
    let allowed = preflight(&app, "https://app.example.com").await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(header(&allowed, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    let other = preflight(&app, "https://evil.example").await;
    assert_eq!(header(&other, "access-control-allow-origin"), None);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn without_allowed_origins_there_are_no_cors_headers(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let response = preflight(&app, "https://app.example.com").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

async fn login(app: &TestApp, email: &str, password: &str) -> Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

const OWNER: &str = "owner@acme.example.com";
const PASSWORD: &str = "s3cret-password";

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn sign_in_attempts_are_throttled_per_address(db: PgPool) {
    let app = TestApp::spawn_with(db, |s| s.limits.auth_per_address_per_minute = 3).await;
    app.register("Acme").await;
    assert_eq!(login(&app, OWNER, PASSWORD).await.status(), 200);
    assert_eq!(
        login(&app, "x@acme.example.com", "nope-nope")
            .await
            .status(),
        401
    );
    let refused = login(&app, OWNER, PASSWORD).await;
    let retry: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_error(refused, 429, "rate_limited").await;
    // Registration counts from the same address too.
    let register = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(
            &json!({"email": "new@globex.example.com", "password": PASSWORD,
                      "organizationName": "Globex"}),
        )
        .send()
        .await
        .unwrap();
    assert_error(register, 429, "rate_limited").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn sign_in_attempts_are_throttled_per_account(db: PgPool) {
    let app = TestApp::spawn_with(db, |s| s.limits.auth_per_account_per_minute = 2).await;
    app.register("Acme").await;
    // Registering counted one attempt for the owner's email.
    assert_eq!(login(&app, OWNER, PASSWORD).await.status(), 200);
    assert_error(login(&app, OWNER, PASSWORD).await, 429, "rate_limited").await;
    app.register("Globex").await;
    assert_eq!(
        login(&app, "owner@globex.example.com", PASSWORD)
            .await
            .status(),
        200
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn repeated_failed_logins_lock_the_account_and_say_so(db: PgPool) {
    let app = TestApp::spawn_with(db, |s| {
        s.limits.login_failures_before_lock = 3;
        s.limits.login_lock_sec = 600;
    })
    .await;
    app.register("Acme").await;
    app.register("Globex").await;
    for _ in 0..2 {
        assert_error(
            login(&app, OWNER, "wrong-password").await,
            401,
            "unauthorized",
        )
        .await;
    }
    let locking = login(&app, OWNER, "wrong-password").await;
    assert_eq!(header(&locking, "retry-after"), Some("600"));
    let body = assert_error(locking, 429, "rate_limited").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("locked"),
        "{body}"
    );
    // Locked: even the right password waits.
    let locked = login(&app, OWNER, PASSWORD).await;
    let retry: u64 = header(&locked, "retry-after").unwrap().parse().unwrap();
    assert!((590..=600).contains(&retry), "{retry}");
    assert_error(locked, 429, "rate_limited").await;
    // Another account is not affected.
    assert_eq!(
        login(&app, "owner@globex.example.com", PASSWORD)
            .await
            .status(),
        200
    );
}

fn rate_headers(response: &Response) -> (u32, u32, u64) {
    let get = |name| {
        header(response, name)
            .unwrap_or_else(|| panic!("no {name}"))
            .parse::<u64>()
            .unwrap()
    };
    (
        get("x-ratelimit-limit") as u32,
        get("x-ratelimit-remaining") as u32,
        get("x-ratelimit-reset"),
    )
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_api_is_rate_limited_per_api_key(db: PgPool) {
    let app = TestApp::spawn_with(db, |s| s.limits.api_key_per_minute = 3).await;
    let token = app.register("Acme").await;
    let created: Value = app
        .post("/api/v1/api-keys", &token, &json!({"name": "ci"}))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    for remaining in [2, 1, 0] {
        let response = app.get("/api/v1/assistants", key).await;
        assert_eq!(response.status(), 200);
        let (limit, left, reset) = rate_headers(&response);
        assert_eq!((limit, left), (3, remaining));
        assert!((1..=60).contains(&reset));
    }
    let refused = app.get("/api/v1/assistants", key).await;
    assert_eq!(rate_headers(&refused).1, 0);
    assert!(header(&refused, "retry-after").is_some());
    assert_error(refused, 429, "rate_limited").await;
    // The user's session is the organization's budget, not the key's.
    assert_eq!(app.get("/api/v1/assistants", &token).await.status(), 200);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_api_is_rate_limited_per_organization(db: PgPool) {
    let app = TestApp::spawn_with(db, |s| s.limits.org_per_minute = 3).await;
    let acme = app.register("Acme").await;
    let globex = app.register("Globex").await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/assistants", &acme).await.status(), 200);
    }
    assert_error(
        app.get("/api/v1/assistants", &acme).await,
        429,
        "rate_limited",
    )
    .await;
    assert_eq!(app.get("/api/v1/assistants", &globex).await.status(), 200);
}
