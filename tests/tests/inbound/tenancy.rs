//! Another organization is refused everything about our numbers and texts; webhooks that
//! are not signed by the number's own account are refused.

use crate::{setup, CALLER, OURS};
use chrono::{TimeZone, Utc};
use outbound_tests::rig::{Api, Rig};
use outbound_tests::twilio::signature;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn another_organization_is_refused_everything(db: PgPool) {
    let rig = Rig::start(db, Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap())
        .await
        .unwrap();
    let made = setup(&rig.api, &rig.twilio, json!({})).await;
    let number_id = made.number["id"].as_str().unwrap();
    let sent = rig
        .post("/api/v1/messages", json!({"to": CALLER, "body": "Hi"}))
        .await
        .unwrap();
    let message_id = sent["id"].as_str().unwrap();

    let other = Api::register(&rig.api.base, "other@example.com")
        .await
        .unwrap();
    let body = json!({"number": OURS, "trunkId": made.trunk_id});
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/numbers/{number_id}"), None),
        (
            Method::PUT,
            format!("/api/v1/numbers/{number_id}"),
            Some(body.clone()),
        ),
        (Method::DELETE, format!("/api/v1/numbers/{number_id}"), None),
        (Method::GET, format!("/api/v1/messages/{message_id}"), None),
        (
            Method::GET,
            format!("/api/v1/contacts/{}/messages", made.contact_id),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/contacts/{}/calls", made.contact_id),
            None,
        ),
    ] {
        let (status, answer) = other.request(method.clone(), &path, body).await.unwrap();
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    for path in ["/api/v1/numbers", "/api/v1/messages"] {
        let list = other.get(path).await.unwrap();
        assert_eq!(list["total"], 0, "{path}: {list}");
    }
    // Its own number on our trunk, or texts from our number: refused with the field named.
    let (status, answer) = other
        .request(Method::POST, "/api/v1/numbers", Some(body))
        .await
        .unwrap();
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["details"][0]["field"], "trunkId");
    let (status, answer) = other
        .request(
            Method::POST,
            "/api/v1/messages",
            Some(json!({"to": CALLER, "body": "Hi", "from": OURS})),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["details"][0]["field"], "from");
    // Ours is untouched.
    rig.get(&format!("/api/v1/numbers/{number_id}"))
        .await
        .unwrap();
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn number_input_is_checked_and_unsigned_or_forged_webhooks_are_refused(db: PgPool) {
    let rig = Rig::start(db, Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap())
        .await
        .unwrap();
    let made = setup(&rig.api, &rig.twilio, json!({})).await;
    let (status, answer) = rig
        .request(
            Method::POST,
            "/api/v1/numbers",
            Some(json!({"number": "+12125550199", "trunkId": made.trunk_id,
                        "businessHours": {"timezone": "Nowhere/City", "days": ["mon"],
                                          "openHour": 9, "closeHour": 25}})),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{answer}");
    let fields: Vec<&str> = answer["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["businessHours.timezone", "businessHours.closeHour"]
    );
    let (status, _) = rig
        .request(
            Method::POST,
            "/api/v1/numbers",
            Some(json!({"number": OURS, "trunkId": made.trunk_id})),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "a number is registered once");

    let voice_url = made.number["webhooks"]["voiceUrl"].as_str().unwrap();
    let params: Vec<(String, String)> = [
        ("AccountSid", rig.twilio.account_sid()),
        ("CallSid", "CA00000000000000000000000000000001"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("From", CALLER),
        ("To", OURS),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let post = |signature: String, params: Vec<(String, String)>| {
        let client = reqwest::Client::new();
        async move {
            client
                .post(voice_url)
                .header(signature::HEADER, signature)
                .form(&params)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Signed with another token, or the right one over other parameters: 403.
    let forged = signature::sign("not-the-token", voice_url, &params);
    assert_eq!(post(forged, params.clone()).await, 403);
    let good = signature::sign(rig.twilio.auth_token(), voice_url, &params);
    let mut tampered = params.clone();
    tampered[4].1 = "+12123009999".into();
    assert_eq!(post(good.clone(), tampered).await, 403);
    // A call to another number of the account, signed correctly, is not this number's.
    let mut elsewhere = params.clone();
    elsewhere[5].1 = "+12125550123".into();
    let signed = signature::sign(rig.twilio.auth_token(), voice_url, &elsewhere);
    assert_eq!(post(signed, elsewhere).await, 403);
    // The genuine request is answered, and no forged one left a call behind.
    assert_eq!(post(good, params).await, 200);
    let calls = rig.get("/api/v1/calls").await.unwrap();
    assert_eq!(calls["total"], 1, "{calls}");
}
