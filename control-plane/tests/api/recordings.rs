//! Downloading a call's recording: reported by the worker through the internal events
//! API, stored in the recordings store, streamed back by the API to its organization only.

use object_store::path::Path;
use object_store::PutPayload;
use serde_json::{json, Value};
use shared::token::CallTokens;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{assert_error, TestApp};

struct Call {
    id: Uuid,
    org: Uuid,
    session: String,
    token: String,
}

/// A call of a new organization `name`, with its session and call token.
async fn call_of(app: &TestApp, name: &str) -> Call {
    let registered = app.register_full(name).await;
    let session = registered["token"].as_str().unwrap().to_string();
    let org: Uuid = registered["organization"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into calls (id, org_id, mode, to_phone) values ($1, $2, 'twilio_stream', '+12125550142')",
    )
    .bind(id)
    .bind(org)
    .execute(&app.db)
    .await
    .unwrap();
    let expires = chrono::Utc::now().timestamp() + 3600;
    let token = CallTokens::new(b"test-worker-token-secret").mint(id, org, expires);
    Call {
        id,
        org,
        session,
        token,
    }
}

/// Reports recordings stored at `locations`, as a worker does; returns their ids in the
/// same order.
async fn report_recordings(app: &TestApp, call: &Call, locations: &[String]) -> Vec<String> {
    let events: Vec<Value> = locations
        .iter()
        .enumerate()
        .map(|(n, location)| {
            json!({"seq": n + 1, "atMs": 1000, "type": "recording_stored",
                   "location": location, "format": "wav", "channels": 2,
                   "durationSec": 1.5, "sizeBytes": 1000})
        })
        .collect();
    let path = format!("/internal/v1/calls/{}/events", call.id);
    let posted = app
        .post(&path, &call.token, &json!({ "events": events }))
        .await;
    assert_eq!(posted.status(), 200);
    let list: Value = app
        .get(
            &format!("/api/v1/calls/{}/recordings", call.id),
            &call.session,
        )
        .await
        .json()
        .await
        .unwrap();
    let listed = list["data"].as_array().unwrap();
    locations
        .iter()
        .map(|location| {
            let recording = listed.iter().find(|r| r["location"] == *location).unwrap();
            recording["id"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn put(app: &TestApp, key: &str, bytes: Vec<u8>) {
    let store = shared::storage::open(&app.recordings_url, &Default::default()).unwrap();
    store
        .put(&Path::from(key), PutPayload::from(bytes))
        .await
        .unwrap();
}

/// A small but real WAV file: header and a little stereo PCM.
fn wav(data_bytes: u32) -> Vec<u8> {
    let mut file = Vec::new();
    file.extend_from_slice(b"RIFF");
    file.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    file.extend_from_slice(b"WAVEfmt ");
    for field in [16u32, 1 | (2 << 16), 8_000, 32_000, 4 | (16 << 16)] {
        file.extend_from_slice(&field.to_le_bytes());
    }
    file.extend_from_slice(b"data");
    file.extend_from_slice(&data_bytes.to_le_bytes());
    file.extend((0..data_bytes).map(|n| (n % 251) as u8));
    file
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_stored_recording_downloads_as_wav_with_its_length(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let call = call_of(&app, "Acme").await;
    let key = format!("recordings/{}/{}.wav", call.org, call.id);
    let ids = report_recordings(&app, &call, std::slice::from_ref(&key)).await;
    let file = wav(100_000);
    put(&app, &key, file.clone()).await;

    let path = format!("/api/v1/calls/{}/recordings/{}/audio", call.id, ids[0]);
    let response = app.get(&path, &call.session).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(headers["content-length"], file.len().to_string().as_str());
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("{}.wav", ids[0])));
    let body = response.bytes().await.unwrap();
    assert_eq!(body.as_ref(), file.as_slice());

    let anonymous = app.client.get(app.url(&path)).send().await.unwrap();
    assert_error(anonymous, 401, "unauthorized").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_missing_call_recording_or_file_is_a_404(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let call = call_of(&app, "Acme").await;
    let other = call_of(&app, "Globex").await;
    let stored = format!("recordings/{}/{}.wav", call.org, call.id);
    let never_uploaded = format!("recordings/{}/{}-lost.wav", call.org, call.id);
    // A location under another organization's prefix is never served, even if present.
    let foreign = format!("recordings/{}/{}.wav", other.org, other.id);
    let ids = report_recordings(
        &app,
        &call,
        &[stored.clone(), never_uploaded, foreign.clone()],
    )
    .await;
    put(&app, &stored, wav(10)).await;
    put(&app, &foreign, wav(10)).await;
    let audio =
        |call: Uuid, recording: &str| format!("/api/v1/calls/{call}/recordings/{recording}/audio");

    let ok = app.get(&audio(call.id, &ids[0]), &call.session).await;
    assert_eq!(ok.status(), 200);
    let lost = app.get(&audio(call.id, &ids[1]), &call.session).await;
    let body = assert_error(lost, 404, "not_found").await;
    assert_eq!(body["error"]["message"], "recording file not found");
    let elsewhere = app.get(&audio(call.id, &ids[2]), &call.session).await;
    assert_error(elsewhere, 404, "not_found").await;
    let no_recording = app
        .get(&audio(call.id, &Uuid::now_v7().to_string()), &call.session)
        .await;
    let body = assert_error(no_recording, 404, "not_found").await;
    assert_eq!(body["error"]["message"], "recording not found");
    let no_call = app
        .get(&audio(Uuid::now_v7(), &ids[0]), &call.session)
        .await;
    let body = assert_error(no_call, 404, "not_found").await;
    assert_eq!(body["error"]["message"], "call not found");
    // Another organization cannot reach the call at all.
    let intruder = app.get(&audio(call.id, &ids[0]), &other.session).await;
    assert_error(intruder, 404, "not_found").await;
}
