//! Another organization is refused everything about an organization's endpoints,
//! deliveries, pre-dial checks and analysis plans, and never receives its events; bad
//! input gets a 422 with the field.

use outbound_tests::rig::{Api, Rig};
use outbound_tests::twilio::CalleeScript;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use crate::receiver::Receiver;
use crate::{contact, drive_until, endpoint, number, quick_webhooks, tuesday_morning, ALL_EVENTS};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn another_organization_is_refused_everything(db: PgPool) {
    let rig = Rig::start_with(db, tuesday_morning(), quick_webhooks)
        .await
        .unwrap();
    let receiver = Receiver::start(0).await;
    let (ours, secret) = endpoint(&rig.api, &receiver.url(), ALL_EVENTS).await;
    receiver.set_secret(&secret);
    rig.twilio.register_callee(&number(0), CalleeScript::busy());
    let campaign = rig
        .start_campaign(vec![contact(0)], json!({"maxAttempts": 1}))
        .await
        .unwrap();
    let assistant = rig
        .get(&format!("/api/v1/campaigns/{campaign}"))
        .await
        .unwrap()["assistantId"]
        .as_str()
        .unwrap()
        .to_string();

    let other = Api::register(&rig.api.base, "other@example.com")
        .await
        .unwrap();
    let other_receiver = Receiver::start(0).await;
    let (theirs, their_secret) = endpoint(&other, &other_receiver.url(), ALL_EVENTS).await;
    other_receiver.set_secret(&their_secret);
    let listed = other.get("/api/v1/webhook-endpoints").await.unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["data"][0]["id"], theirs.as_str());

    let refused = [
        (
            Method::GET,
            format!("/api/v1/webhook-endpoints/{ours}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/webhook-endpoints/{ours}"),
            Some(json!({"enabled": false})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/webhook-endpoints/{ours}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/webhook-endpoints/{ours}/deliveries"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/webhook-endpoints/{ours}/deliveries/1/redeliver"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/campaigns/{campaign}/pre-dial-check"),
            Some(json!({"endpointId": theirs})),
        ),
        (
            Method::GET,
            format!("/api/v1/campaigns/{campaign}/pre-dial-check"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/campaigns/{campaign}/pre-dial-check"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/assistants/{assistant}/analysis-plan"),
            Some(json!({"summary": true})),
        ),
        (
            Method::GET,
            format!("/api/v1/assistants/{assistant}/analysis-plan"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/assistants/{assistant}/analysis-plan"),
            None,
        ),
    ];
    for (method, path, body) in refused {
        let (status, answer) = other.request(method.clone(), &path, body).await.unwrap();
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    // Nor may an organization sign its campaign's checks with another's endpoint.
    let (status, answer) = rig
        .request(
            Method::PUT,
            &format!("/api/v1/campaigns/{campaign}/pre-dial-check"),
            Some(json!({"endpointId": theirs})),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["details"][0]["field"], "endpointId");

    // Our events reach our receiver only.
    drive_until(
        &rig,
        chrono::Duration::seconds(5),
        std::time::Duration::from_secs(20),
        || {
            receiver
                .accepted()
                .iter()
                .any(|e| e["type"] == "call.report")
        },
    )
    .await;
    assert!(other_receiver.accepted().is_empty());
    assert_eq!(other_receiver.total_attempts(), 0);
    // And our endpoint is still there, unchanged.
    let still = rig
        .get(&format!("/api/v1/webhook-endpoints/{ours}"))
        .await
        .unwrap();
    assert_eq!(still["enabled"], true);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn bad_endpoints_are_refused_with_the_field_and_the_secret_is_shown_once(db: PgPool) {
    let rig = Rig::start_with(db, tuesday_morning(), quick_webhooks)
        .await
        .unwrap();
    for (body, field) in [
        (
            json!({"url": "ftp://example.com/x", "eventTypes": ["call.status"]}),
            "url",
        ),
        (
            json!({"url": "not a url", "eventTypes": ["call.status"]}),
            "url",
        ),
        (
            json!({"url": "https://example.com/x", "eventTypes": []}),
            "eventTypes",
        ),
        (
            json!({"url": "https://example.com/x", "eventTypes": ["call.started"]}),
            "eventTypes[0]",
        ),
    ] {
        let (status, answer) = rig
            .request(Method::POST, "/api/v1/webhook-endpoints", Some(body))
            .await
            .unwrap();
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"]["details"][0]["field"], field, "{answer}");
    }
    let (id, secret) = endpoint(&rig.api, "https://example.com/hook", &["call.report"]).await;
    assert!(secret.starts_with("whsec_"));
    let shown = rig
        .get(&format!("/api/v1/webhook-endpoints/{id}"))
        .await
        .unwrap();
    assert!(shown.get("secret").is_none(), "{shown}");
    assert!(!shown.to_string().contains(&secret));
    let (status, updated) = rig
        .request(
            Method::PATCH,
            &format!("/api/v1/webhook-endpoints/{id}"),
            Some(json!({"eventTypes": ["call.status", "campaign.completed"], "enabled": false})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["eventTypes"],
        json!(["call.status", "campaign.completed"])
    );
    assert_eq!(updated["enabled"], false);
    let (status, _) = rig
        .request(
            Method::DELETE,
            &format!("/api/v1/webhook-endpoints/{id}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    let (status, _) = rig
        .request(
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
}
