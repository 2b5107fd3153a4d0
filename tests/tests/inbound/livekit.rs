//! A number on a `livekit_sip` trunk gets its LiveKit side at a real livekit-server: an
//! inbound trunk for the number and a dispatch rule putting each caller in an `inbound-`
//! room of its own; deleting the number removes both. The rule dispatches no agent (the
//! control plane does, once the call is recorded): the conversation in that room is
//! `tests/tests/livekit_room/inbound.rs`.

use chrono::{TimeZone, Utc};
use outbound_tests::livekit::LiveKitServer;
use outbound_tests::rig::Rig;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_livekit_number_gets_an_inbound_trunk_and_a_dispatch_rule(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let (url, key, secret) = (
        livekit.url.clone(),
        livekit.api_key.clone(),
        livekit.api_secret.clone(),
    );
    let rig = Rig::start_with(
        db,
        Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap(),
        move |s| {
            s.livekit.url = Some(url);
            s.livekit.api_key = Some(key);
            s.livekit.api_secret = Some(SecretString::from(secret));
        },
    )
    .await
    .unwrap();
    let trunk = rig
        .post(
            "/api/v1/trunks",
            json!({"name": "SIP", "provider": "twilio", "mode": "livekit_sip",
                   "numbers": ["+14155550111"], "address": "acme.pstn.twilio.com"}),
        )
        .await
        .unwrap();
    let number = rig
        .post(
            "/api/v1/numbers",
            json!({"number": "+14155550111", "trunkId": trunk["id"]}),
        )
        .await
        .unwrap();
    let trunk_id = number["livekitInboundTrunkId"].as_str().unwrap();
    let rule_id = number["livekitDispatchRuleId"].as_str().unwrap();
    assert!(trunk_id.starts_with("ST_"), "{number}");
    assert!(rule_id.starts_with("SDR_"), "{number}");

    let trunks = livekit.sip("ListSIPInboundTrunk", json!({})).await.unwrap();
    let inbound = trunks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["sip_trunk_id"] == trunk_id)
        .expect("the inbound trunk is at LiveKit")
        .clone();
    assert_eq!(inbound["numbers"], json!(["+14155550111"]));
    let rules = livekit.sip("ListSIPDispatchRule", json!({})).await.unwrap();
    let rule = rules["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["sip_dispatch_rule_id"] == rule_id)
        .expect("the dispatch rule is at LiveKit")
        .clone();
    assert_eq!(rule["trunk_ids"], json!([trunk_id]));
    assert_eq!(
        rule["rule"]["dispatch_rule_individual"]["room_prefix"],
        "inbound-"
    );
    assert!(
        rule["room_config"]["agents"]
            .as_array()
            .is_none_or(|agents| agents.is_empty()),
        "the job needs the call's id and token: the control plane dispatches it: {rule}"
    );

    let id = number["id"].as_str().unwrap();
    let (status, _) = rig
        .request(Method::DELETE, &format!("/api/v1/numbers/{id}"), None)
        .await
        .unwrap();
    assert_eq!(status, 204);
    let trunks = livekit.sip("ListSIPInboundTrunk", json!({})).await.unwrap();
    assert!(!trunks["items"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["sip_trunk_id"] == trunk_id)));
    let rules = livekit.sip("ListSIPDispatchRule", json!({})).await.unwrap();
    assert!(!rules["items"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["sip_dispatch_rule_id"] == rule_id)));
}
