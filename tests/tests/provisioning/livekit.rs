//! Trunks registered as outbound trunks at a real livekit-server (with Redis, as its SIP
//! service requires): created, replaced on update, removed on delete.

use outbound_tests::livekit::LiveKitServer;
use outbound_tests::rig::Rig;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{now, provision, stored_password};

async fn rig_with(db: PgPool, livekit: &LiveKitServer) -> Rig {
    let (url, key, secret) = (
        livekit.url.clone(),
        livekit.api_key.clone(),
        livekit.api_secret.clone(),
    );
    Rig::start_with(db, now(), move |s| {
        s.livekit.url = Some(url);
        s.livekit.api_key = Some(key);
        s.livekit.api_secret = Some(SecretString::from(secret));
    })
    .await
    .unwrap()
}

fn find<'a>(trunks: &'a [Value], id: &Value) -> Option<&'a Value> {
    trunks.iter().find(|t| &t["sip_trunk_id"] == id)
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_provisioned_twilio_trunk_is_livekits_outbound_trunk(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let rig = rig_with(db, &livekit).await;
    rig.twilio.own_number("+14155550111");
    let (status, trunk) = provision(
        &rig,
        json!({"name": "Acme", "numbers": ["+14155550111"], "domainName": "acme-lk"}),
    )
    .await;
    assert_eq!(status, 201, "{trunk}");
    let livekit_id = &trunk["livekitTrunkId"];
    assert!(
        livekit_id.as_str().is_some_and(|id| id.starts_with("ST_")),
        "{trunk}"
    );

    let trunks = livekit.outbound_trunks().await.unwrap();
    let registered = find(&trunks, livekit_id).expect("the trunk is registered at LiveKit");
    assert_eq!(registered["address"], "acme-lk.pstn.twilio.com");
    assert_eq!(registered["numbers"], json!(["+14155550111"]));
    assert_eq!(registered["auth_username"], trunk["authUsername"]);
    // LiveKit dials Twilio with credentials Twilio accepts.
    let password = registered["auth_password"].as_str().unwrap();
    assert_eq!(
        password,
        stored_password(&rig, trunk["id"].as_str().unwrap()).await
    );
    assert!(rig.twilio.accepts_sip_credentials(
        "acme-lk.pstn.twilio.com",
        registered["auth_username"].as_str().unwrap(),
        password
    ));
    assert!(registered["metadata"]
        .as_str()
        .unwrap()
        .contains(trunk["id"].as_str().unwrap()));

    let path = format!("/api/v1/trunks/{}", trunk["id"].as_str().unwrap());
    let (status, _) = rig.request(Method::DELETE, &path, None).await.unwrap();
    assert_eq!(status, 204);
    assert!(livekit.outbound_trunks().await.unwrap().is_empty());
    assert!(rig.twilio.trunks().is_empty());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_updated_trunk_is_registered_anew_with_its_kept_password(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let rig = rig_with(db, &livekit).await;
    let body = json!({"name": "Carrier", "provider": "telnyx", "mode": "livekit_sip",
                      "numbers": ["+14155550121"], "address": "sip.telnyx.com",
                      "authUsername": "acme", "authPassword": "first-secret"});
    let (status, created) = rig
        .request(Method::POST, "/api/v1/trunks", Some(body.clone()))
        .await
        .unwrap();
    assert_eq!(status, 201, "{created}");
    let first_id = created["livekitTrunkId"].clone();

    // The password is omitted: kept, and LiveKit gets the kept one.
    let mut changed = body;
    changed["numbers"] = json!(["+14155550121", "+14155550122"]);
    changed.as_object_mut().unwrap().remove("authPassword");
    let path = format!("/api/v1/trunks/{}", created["id"].as_str().unwrap());
    let (status, updated) = rig
        .request(Method::PUT, &path, Some(changed))
        .await
        .unwrap();
    assert_eq!(status, 200, "{updated}");
    assert_ne!(updated["livekitTrunkId"], first_id);

    let trunks = livekit.outbound_trunks().await.unwrap();
    assert_eq!(trunks.len(), 1, "the old registration is gone: {trunks:?}");
    let registered = find(&trunks, &updated["livekitTrunkId"]).unwrap();
    assert_eq!(
        registered["numbers"],
        json!(["+14155550121", "+14155550122"])
    );
    assert_eq!(registered["auth_password"], "first-secret");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn livekit_refusing_the_keys_stores_nothing(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let (url, key) = (livekit.url.clone(), livekit.api_key.clone());
    let rig = Rig::start_with(db, now(), move |s| {
        s.livekit.url = Some(url);
        s.livekit.api_key = Some(key);
        s.livekit.api_secret = Some(SecretString::from(
            "a-wrong-secret-of-32-characters-or-more",
        ));
    })
    .await
    .unwrap();
    rig.twilio.own_number("+14155550131");
    let (status, body) =
        provision(&rig, json!({"name": "Acme", "numbers": ["+14155550131"]})).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.to_string().contains("livekit.api_secret"), "{body}");
    // Neither a stored trunk nor a Twilio trunk is left behind.
    assert_eq!(rig.get("/api/v1/trunks").await.unwrap()["total"], 0);
    assert!(rig.twilio.trunks().is_empty());
    assert!(rig.twilio.credential_lists().is_empty());
}
