//! `TestApp`: the control plane on a free port with its own database, and a client.

use control_plane::app::Application;
use control_plane::config::Settings;
use reqwest::{Method, RequestBuilder, Response};
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;

pub struct TestApp {
    pub address: String,
    pub db: PgPool,
    pub client: reqwest::Client,
    /// The app's recordings store (a temporary folder).
    pub recordings_url: String,
}

/// Small limits so the 413 paths are cheap to reach.
pub const TEST_BODY_LIMIT: usize = 64 * 1024;
pub const TEST_WORKER_KEY: &str = "test-worker-key";
pub const TEST_UPLOAD_LIMIT: usize = 4 * 1024 * 1024;

pub fn test_settings() -> Settings {
    let mut s = Settings::defaults("postgres://unused: the test hands in its pool")
        .expect("default settings");
    s.server.port = 0;
    s.server.public_url = "http://127.0.0.1".into();
    s.server.request_timeout_sec = 10;
    s.server.body_limit_bytes = TEST_BODY_LIMIT;
    s.server.upload_limit_bytes = TEST_UPLOAD_LIMIT;
    s.server.upload_timeout_sec = 60;
    s.server.shutdown_grace_sec = 1;
    s.database.max_connections = 5;
    s.database.migrate = false;
    s.auth.jwt_secret = SecretString::from("test-jwt-secret");
    s.auth.jwt_ttl_hours = 1;
    s.auth.encryption_key = SecretString::from("test-encryption-key");
    // Nothing listens here: tests that dial point it at the Twilio emulator.
    s.twilio.base_url = "http://127.0.0.1:9".into();
    s.twilio.request_timeout_sec = 5;
    // The engine loop is off unless a test drives it.
    s.engine.enabled = false;
    s.workers.api_key = SecretString::from(TEST_WORKER_KEY);
    s.workers.token_secret = SecretString::from("test-worker-token-secret");
    // Tests make many requests fast from one address: limits far above what any test
    // makes, except where a test sets small ones to reach them.
    s.limits.auth_per_address_per_minute = 10_000;
    s.limits.auth_per_account_per_minute = 10_000;
    s.limits.login_failures_before_lock = 10_000;
    s.limits.api_key_per_minute = 100_000;
    s.limits.org_per_minute = 100_000;
    // One folder for every test: keys carry the organization and call ids, so tests
    // cannot collide, and runs leave one folder behind rather than one per test.
    s.recordings.store_url = std::env::temp_dir()
        .join("cp-test-recordings")
        .display()
        .to_string();
    s
}

impl TestApp {
    /// Starts the app on the (already migrated) test database.
    pub async fn spawn(db: PgPool) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    /// [`Self::spawn`] with settings changed by `change`.
    pub async fn spawn_with(db: PgPool, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = test_settings();
        change(&mut settings);
        let recordings_url = settings.recordings.store_url.clone();
        let app = Application::build_with_pool(settings, db.clone())
            .await
            .expect("app builds");
        let address = format!("http://{}", app.address());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        Self {
            address,
            db,
            client: reqwest::Client::new(),
            recordings_url,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request with `token` as the bearer credential.
    pub fn req(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.req(Method::GET, path, token).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.req(Method::POST, path, token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Response {
        self.req(Method::PUT, path, token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.req(Method::DELETE, path, token).send().await.unwrap()
    }

    /// Registers a new organization and returns its session token.
    pub async fn register(&self, org: &str) -> String {
        let body = self.register_full(org).await;
        body["token"].as_str().unwrap().to_string()
    }

    /// Registers and returns the whole answer.
    pub async fn register_full(&self, org: &str) -> Value {
        let email = format!("owner@{}.example.com", org.to_lowercase().replace(' ', "-"));
        let response = self
            .client
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({"email": email, "password": "s3cret-password", "organizationName": org}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "register {org}");
        response.json().await.unwrap()
    }

    /// Creates a minimal valid assistant and returns its id.
    pub async fn create_assistant(&self, token: &str) -> String {
        let response = self
            .post(
                "/api/v1/assistants",
                token,
                &json!({"name": "Sales", "systemPrompt": "You call {{name}} about {{product}}.",
                        "firstMessage": "Hi {{name}}, this is Sam, an AI assistant."}),
            )
            .await;
        assert_eq!(response.status(), 201);
        id_of(response).await
    }
}

/// The `id` of a JSON answer.
pub async fn id_of(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_string()
}

/// Asserts the status and the error code of an error answer; returns the body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "unexpected status, body: {body}");
    assert_eq!(body["error"]["code"], code, "unexpected error body: {body}");
    assert!(body["error"]["message"].is_string());
    body
}
