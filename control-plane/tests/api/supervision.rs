//! Live supervision on the organization's event stream: every audited supervision action
//! (refused ones too) is a `call.supervision` event with its actor, and only the call's
//! organization ever sees it. (With a real worker: `tests/tests/supervision/`.)

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::calls::{insert_call, CallSeed};
use crate::console::Sse;
use crate::helpers::TestApp;

/// The next `call.supervision` event on `stream`, skipping the others.
async fn next_supervision(stream: &mut Sse) -> Value {
    loop {
        let (id, kind, data) = stream
            .next(Duration::from_secs(10))
            .await
            .expect("a call.supervision event");
        if kind == "call.supervision" {
            assert!(!id.is_empty());
            return data;
        }
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn supervision_actions_are_events_of_the_calls_organization_with_their_actor(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let acme = app.register_full("Acme").await;
    let token = acme["token"].as_str().unwrap().to_string();
    let user_id = acme["user"]["id"].as_str().unwrap().to_string();
    let org_id = acme["organization"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let other = app.register_full("Other").await;
    let other_token = other["token"].as_str().unwrap().to_string();
    let other_org = other["organization"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let key: Value = app
        .post("/api/v1/api-keys", &token, &json!({"name": "supervisor"}))
        .await
        .json()
        .await
        .unwrap();
    let (key, key_id) = (key["key"].as_str().unwrap(), key["id"].as_str().unwrap());
    // Live, but no worker holds it: every control is refused (409), and audited.
    let call = insert_call(
        &app,
        org_id,
        CallSeed {
            status: shared::CallStatus::InProgress,
            answered: true,
            ..CallSeed::default()
        },
    )
    .await;
    let mut ours = Sse::open(&app, &token, None).await;
    let mut theirs = Sse::open(&app, &other_token, None).await;

    let control = format!("/api/v1/calls/{call}/control");
    // Another organization's attempts are 404s that leave no trace anywhere.
    let refused = app
        .post(&control, &other_token, &json!({"action": "end"}))
        .await;
    assert_eq!(refused.status(), 404);
    let whisper = app
        .post(
            &control,
            &token,
            &json!({"action": "whisper", "text": "offer the premium plan"}),
        )
        .await;
    assert_eq!(whisper.status(), 409);
    let end = app.post(&control, key, &json!({"action": "end"})).await;
    assert_eq!(end.status(), 409);

    let first = next_supervision(&mut ours).await;
    assert_eq!(first["callId"], call.to_string(), "{first}");
    assert_eq!(first["action"], "whisper", "{first}");
    assert_eq!(first["detail"]["text"], "offer the premium plan", "{first}");
    assert_eq!(first["ok"], false, "{first}");
    assert!(
        first["error"].as_str().unwrap().contains("worker"),
        "{first}"
    );
    assert_eq!(first["userId"], user_id.as_str(), "{first}");
    assert!(first["apiKeyId"].is_null(), "{first}");
    assert!(first["at"].is_string() && first["actionId"].is_string());
    let second = next_supervision(&mut ours).await;
    assert_eq!(second["action"], "end", "{second}");
    assert_eq!(second["apiKeyId"], key_id, "{second}");
    assert!(second["userId"].is_null(), "{second}");
    // The event is the audit row: the same action, listed on the call.
    let audit: Value = app
        .get(&format!("/api/v1/calls/{call}/supervision"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["data"][0]["id"], first["actionId"], "{audit}");

    // The other organization's stream: its own next change comes first, none of ours.
    insert_call(&app, other_org, CallSeed::default()).await;
    let (_, kind, data) = theirs
        .next(Duration::from_secs(10))
        .await
        .expect("the other organization's own event");
    assert_eq!(kind, "call.created", "{data}");
    assert_ne!(data["callId"], call.to_string(), "{data}");
}
