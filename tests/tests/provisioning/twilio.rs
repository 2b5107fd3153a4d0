//! `POST /api/v1/trunks/twilio` against the Twilio emulator: what is made at Twilio, what
//! is stored, and that a refusal at any step leaves nothing behind.

use outbound_tests::rig::Rig;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use crate::{now, provision, stored_password};

const A: &str = "+14155550101";
const B: &str = "+14155550102";

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn provisions_a_trunk_livekit_can_dial_through(db: PgPool) {
    let rig = Rig::start(db, now()).await.unwrap();
    rig.twilio.own_number(A);
    rig.twilio.own_number(B);

    let (status, trunk) = provision(
        &rig,
        json!({"name": "Acme outbound", "numbers": [A, B], "domainName": "acme-out",
                        "callsPerSecond": 5}),
    )
    .await;
    assert_eq!(status, 201, "{trunk}");
    assert_eq!(trunk["mode"], "livekit_sip");
    assert_eq!(trunk["provider"], "twilio");
    assert_eq!(trunk["address"], "acme-out.pstn.twilio.com");
    assert_eq!(trunk["numbers"], json!([A, B]));
    assert_eq!(trunk["callsPerSecond"], 5.0);
    assert_eq!(trunk["hasAuthPassword"], true);
    assert!(
        trunk.get("authPassword").is_none(),
        "the password is write-only"
    );
    // No LiveKit project is configured in this rig: nothing registered there.
    assert_eq!(trunk["livekitTrunkId"], json!(null));

    let made = rig.twilio.trunks();
    assert_eq!(made.len(), 1);
    let twilio_trunk = &made[0];
    assert_eq!(trunk["twilioTrunkSid"], twilio_trunk.sid.as_str());
    assert_eq!(twilio_trunk.domain_name, "acme-out.pstn.twilio.com");
    assert_eq!(twilio_trunk.friendly_name, "Acme outbound");
    assert_eq!(twilio_trunk.numbers, [A, B]);
    assert_eq!(twilio_trunk.credential_lists.len(), 1);

    // What the control plane will hand LiveKit is what Twilio lets through.
    let username = trunk["authUsername"].as_str().unwrap();
    let password = stored_password(&rig, trunk["id"].as_str().unwrap()).await;
    assert!(rig
        .twilio
        .accepts_sip_credentials("acme-out.pstn.twilio.com", username, &password));
    assert!(!rig.twilio.accepts_sip_credentials(
        "acme-out.pstn.twilio.com",
        username,
        "wrong-Password-1"
    ));
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_number_the_account_lacks_is_refused_before_anything_is_made(db: PgPool) {
    let rig = Rig::start(db, now()).await.unwrap();
    rig.twilio.own_number(A);
    let (status, body) = provision(&rig, json!({"name": "Acme", "numbers": [A, B]})).await;
    assert_eq!(status, 422, "{body}");
    let fields = body["error"]["details"].to_string();
    assert!(
        fields.contains("numbers[1]") && fields.contains(B),
        "{body}"
    );
    assert!(rig.twilio.trunks().is_empty());
    assert!(rig.twilio.credential_lists().is_empty());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_refusal_midway_undoes_what_was_made(db: PgPool) {
    let rig = Rig::start(db, now()).await.unwrap();
    rig.twilio.own_number(A);
    rig.twilio.own_number(B);
    let (status, first) = provision(
        &rig,
        json!({"name": "First", "numbers": [A], "domainName": "first"}),
    )
    .await;
    assert_eq!(status, 201, "{first}");

    // B goes onto the new trunk, then A is refused: it is on the first trunk already.
    let (status, body) = provision(
        &rig,
        json!({"name": "Second", "numbers": [B, A], "domainName": "second"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("already associated"), "{body}");

    let trunks = rig.twilio.trunks();
    assert_eq!(trunks.len(), 1, "{trunks:?}");
    assert_eq!(trunks[0].domain_name, "first.pstn.twilio.com");
    assert_eq!(trunks[0].numbers, [A]);
    assert_eq!(
        rig.twilio.credential_lists(),
        trunks[0].credential_lists,
        "the second trunk's credential list was deleted"
    );
    let list = rig.get("/api/v1/trunks").await.unwrap();
    assert_eq!(list["total"], 1, "{list}");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn deleting_the_trunk_deletes_it_at_twilio_and_its_domain_stays_reserved(db: PgPool) {
    let rig = Rig::start(db, now()).await.unwrap();
    rig.twilio.own_number(A);
    let body = json!({"name": "Acme", "numbers": [A], "domainName": "acme-del"});
    let (status, trunk) = provision(&rig, body.clone()).await;
    assert_eq!(status, 201, "{trunk}");

    let path = format!("/api/v1/trunks/{}", trunk["id"].as_str().unwrap());
    let (status, _) = rig.request(Method::DELETE, &path, None).await.unwrap();
    assert_eq!(status, 204);
    assert!(rig.twilio.trunks().is_empty());
    assert!(rig.twilio.credential_lists().is_empty());
    let (status, _) = rig.request(Method::GET, &path, None).await.unwrap();
    assert_eq!(status, 404);

    // Twilio keeps a deleted trunk's domain: asking for it again is a conflict that says
    // why, and the number is free for another domain.
    let (status, refused) = provision(&rig, body).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.to_string().contains("30 days"), "{refused}");
    let (status, again) = provision(
        &rig,
        json!({"name": "Acme", "numbers": [A], "domainName": "acme-del-2"}),
    )
    .await;
    assert_eq!(status, 201, "{again}");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn credentials_twilio_refuses_are_the_callers_mistake(db: PgPool) {
    let rig = Rig::start(db, now()).await.unwrap();
    rig.twilio.own_number(A);
    let (status, body) = provision(
        &rig,
        json!({"name": "Acme", "numbers": [A],
                        "accountSid": rig.twilio.account_sid(), "authToken": "not-the-token"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("authToken"), "{body}");
    assert!(rig.twilio.trunks().is_empty());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn bad_fields_are_refused_without_asking_twilio(db: PgPool) {
    let rig = Rig::start(db, now()).await.unwrap();
    let (status, body) = provision(
        &rig,
        json!({"name": "", "numbers": [], "domainName": "no_underscores"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let fields = body["error"]["details"].to_string();
    for field in ["name", "numbers", "domainName"] {
        assert!(fields.contains(field), "{field} in {body}");
    }
    assert!(rig.twilio.trunks().is_empty());
}
