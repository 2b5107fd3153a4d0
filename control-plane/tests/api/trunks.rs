//! Trunks: CRUD, validation, write-only secrets stored sealed, delete refused while used.

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{assert_error, id_of, TestApp};

/// A valid LiveKit SIP trunk body.
pub fn sip_trunk() -> Value {
    json!({"name": "Main SIP", "provider": "twilio", "mode": "livekit_sip",
           "numbers": ["+1 (415) 555-2671"], "address": "acme.pstn.twilio.com",
           "authUsername": "acme", "authPassword": "sip-pass-123"})
}

/// A valid Twilio Media Streams trunk body.
pub fn twilio_trunk() -> Value {
    json!({"name": "Twilio", "provider": "twilio", "mode": "twilio_stream",
           "numbers": ["+14155552671"], "accountSid": "AC0123456789abcdef",
           "authToken": "twilio-token-456", "callsPerSecond": 2.5})
}

/// Creates a LiveKit SIP trunk and returns its id.
pub async fn create_trunk(app: &TestApp, token: &str) -> String {
    let response = app.post("/api/v1/trunks", token, &sip_trunk()).await;
    assert_eq!(response.status(), 201);
    id_of(response).await
}

async fn sealed(app: &TestApp, id: &str) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let row = sqlx::query!(
        "select auth_password_enc, auth_token_enc from trunks where id = $1",
        Uuid::parse_str(id).unwrap()
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    (row.auth_password_enc, row.auth_token_enc)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn creating_a_sip_trunk_normalizes_numbers_and_hides_the_password(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let response = app.post("/api/v1/trunks", &token, &sip_trunk()).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["numbers"], json!(["+14155552671"]));
    assert_eq!(body["mode"], "livekit_sip");
    assert_eq!(body["callsPerSecond"], 1.0);
    assert_eq!(body["hasAuthPassword"], true);
    assert_eq!(body["hasAuthToken"], false);
    assert_eq!(body["livekitTrunkId"], Value::Null);
    assert!(body.get("authPassword").is_none());
    assert!(!body.to_string().contains("sip-pass-123"));

    let id = body["id"].as_str().unwrap();
    let (password, token_enc) = sealed(&app, id).await;
    let password = password.expect("password stored");
    assert!(!contains(&password, "sip-pass-123"), "stored in plain text");
    assert!(token_enc.is_none());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_twilio_trunk_keeps_its_token_sealed_and_never_returns_it(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let response = app.post("/api/v1/trunks", &token, &twilio_trunk()).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["hasAuthToken"], true);
    assert_eq!(body["accountSid"], "AC0123456789abcdef");
    assert_eq!(body["callsPerSecond"], 2.5);
    let id = body["id"].as_str().unwrap().to_string();
    let fetched = app.get(&format!("/api/v1/trunks/{id}"), &token).await;
    let text = fetched.text().await.unwrap();
    assert!(!text.contains("twilio-token-456"));
    let (_, sealed_token) = sealed(&app, &id).await;
    assert!(!contains(&sealed_token.unwrap(), "twilio-token-456"));
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn updating_without_secrets_keeps_them_and_an_empty_one_removes_it(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let id = create_trunk(&app, &token).await;
    let path = format!("/api/v1/trunks/{id}");
    let (before, _) = sealed(&app, &id).await;

    let mut body = sip_trunk();
    body.as_object_mut().unwrap().remove("authPassword");
    body["name"] = json!("Renamed");
    body["numbers"] = json!(["+14155552671", "+442079460958"]);
    let response = app.put(&path, &token, &body).await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["numbers"].as_array().unwrap().len(), 2);
    assert_eq!(updated["hasAuthPassword"], true);
    assert_eq!(sealed(&app, &id).await.0, before, "password kept as it was");

    body["authPassword"] = json!("");
    let cleared: Value = app.put(&path, &token, &body).await.json().await.unwrap();
    assert_eq!(cleared["hasAuthPassword"], false);
    assert_eq!(sealed(&app, &id).await.0, None);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn invalid_trunks_are_422_with_each_field_named(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let response = app
        .post(
            "/api/v1/trunks",
            &token,
            &json!({"name": " ", "provider": "", "mode": "livekit_sip",
                    "numbers": ["+14155552671", "not a number"], "address": "sip:acme.example.com",
                    "callsPerSecond": 0, "accountSid": "XY123"}),
        )
        .await;
    let body = assert_error(response, 422, "validation_failed").await;
    let fields = field_names(&body);
    for expected in [
        "name",
        "provider",
        "numbers[1]",
        "address",
        "callsPerSecond",
        "accountSid",
    ] {
        assert!(
            fields.contains(&expected.to_string()),
            "{expected} missing from {fields:?}"
        );
    }
    assert!(!fields.contains(&"numbers[0]".to_string()));
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_sip_trunk_needs_an_address_and_a_number_and_a_known_mode(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let mut body = sip_trunk();
    body.as_object_mut().unwrap().remove("address");
    body["numbers"] = json!([]);
    body["callsPerSecond"] = json!(101);
    let fields = field_names(
        &assert_error(
            app.post("/api/v1/trunks", &token, &body).await,
            422,
            "validation_failed",
        )
        .await,
    );
    assert_eq!(fields, ["numbers", "address", "callsPerSecond"]);

    let mut body = sip_trunk();
    body["mode"] = json!("pstn");
    let fields = field_names(
        &assert_error(
            app.post("/api/v1/trunks", &token, &body).await,
            422,
            "validation_failed",
        )
        .await,
    );
    assert_eq!(fields, ["mode"]);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn trunks_list_get_and_delete(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let first = create_trunk(&app, &token).await;
    let second = id_of(app.post("/api/v1/trunks", &token, &twilio_trunk()).await).await;
    let list: Value = app
        .get("/api/v1/trunks", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 2);
    assert_eq!(list["data"][0]["id"], second.as_str(), "newest first");
    assert_eq!(list["perPage"], 50);

    let path = format!("/api/v1/trunks/{first}");
    assert_eq!(app.delete(&path, &token).await.status(), 204);
    assert_error(app.get(&path, &token).await, 404, "not_found").await;
    assert_error(app.delete(&path, &token).await, 404, "not_found").await;
    let unknown = format!("/api/v1/trunks/{}", Uuid::new_v4());
    assert_error(
        app.put(&unknown, &token, &sip_trunk()).await,
        404,
        "not_found",
    )
    .await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_trunk_in_use_cannot_be_deleted_or_change_mode(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = crate::campaigns::org(&app, "Acme").await;
    let campaign = crate::campaigns::create_campaign(&app, &org, 1).await;
    let path = format!("/api/v1/trunks/{}", campaign.trunk_id);
    assert_error(app.delete(&path, &org.token).await, 409, "conflict").await;
    let response = app.put(&path, &org.token, &twilio_trunk()).await;
    assert_error(response, 409, "conflict").await;
    // Other edits are fine.
    let mut body = sip_trunk();
    body["callsPerSecond"] = json!(5);
    assert_eq!(app.put(&path, &org.token, &body).await.status(), 200);
}

pub fn field_names(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect()
}
