//! Twilio webhooks: signatures are enforced, and callbacks move a call forward only.

use control_plane::webhooks::twilio::signature;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::TestApp;

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const AUTH_TOKEN: &str = "trunk-auth-token";

/// A trunk that carries its own Twilio account, and a call on it.
async fn call_on_own_account(app: &TestApp) -> (Uuid, String) {
    call_on_account(app, "Acme", ACCOUNT, AUTH_TOKEN).await
}

/// A new organization with a trunk on `account` (signed with `auth_token`), and a call
/// on that trunk.
async fn call_on_account(
    app: &TestApp,
    org: &str,
    account: &str,
    auth_token: &str,
) -> (Uuid, String) {
    let token = app.register(org).await;
    let trunk: Value = app
        .post(
            "/api/v1/trunks",
            &token,
            &json!({"name": "T", "provider": "twilio", "mode": "twilio_stream",
                    "numbers": ["+12125550100"], "accountSid": account, "authToken": auth_token}),
        )
        .await
        .json()
        .await
        .unwrap();
    let trunk_id: Uuid = trunk["id"].as_str().unwrap().parse().unwrap();
    let call = Uuid::now_v7();
    sqlx::query(
        "insert into calls (id, org_id, trunk_id, mode, to_phone)
         select $1, org_id, id, 'twilio_stream', '+12125550142' from trunks where id = $2",
    )
    .bind(call)
    .bind(trunk_id)
    .execute(&app.db)
    .await
    .unwrap();
    (call, token)
}

async fn post_status(app: &TestApp, call: Uuid, status: &str, seq: u32, sign_with: &str) -> u16 {
    let path = format!("/webhooks/twilio/status?callId={call}");
    let params: Vec<(String, String)> = [
        ("AccountSid", ACCOUNT.to_string()),
        ("CallSid", "CA00000000000000000000000000000042".to_string()),
        ("CallStatus", status.to_string()),
        ("SequenceNumber", seq.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The control plane checks against its public URL (test settings: http://127.0.0.1).
    let signature = signature::sign(sign_with, &format!("http://127.0.0.1{path}"), &params);
    app.client
        .post(app.url(&path))
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn status_of(app: &TestApp, call: Uuid) -> String {
    sqlx::query_scalar("select status from calls where id = $1")
        .bind(call)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_callback_with_a_bad_or_missing_signature_is_refused(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (call, _) = call_on_own_account(&app).await;
    assert_eq!(
        post_status(&app, call, "ringing", 1, "wrong-token").await,
        403
    );
    let unsigned = app
        .client
        .post(app.url(&format!("/webhooks/twilio/status?callId={call}")))
        .form(&[("AccountSid", ACCOUNT), ("CallStatus", "ringing")])
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(status_of(&app, call).await, "queued");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn callbacks_move_a_call_forward_only_whatever_their_order(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (call, _) = call_on_own_account(&app).await;
    assert_eq!(post_status(&app, call, "ringing", 1, AUTH_TOKEN).await, 204);
    assert_eq!(
        post_status(&app, call, "in-progress", 2, AUTH_TOKEN).await,
        204
    );
    // A late `initiated` and a repeated `ringing` change nothing.
    assert_eq!(
        post_status(&app, call, "initiated", 0, AUTH_TOKEN).await,
        204
    );
    assert_eq!(post_status(&app, call, "ringing", 1, AUTH_TOKEN).await, 204);
    assert_eq!(status_of(&app, call).await, "in_progress");
    assert_eq!(
        post_status(&app, call, "completed", 3, AUTH_TOKEN).await,
        204
    );
    assert_eq!(post_status(&app, call, "busy", 3, AUTH_TOKEN).await, 204);
    assert_eq!(status_of(&app, call).await, "completed");
    let sid: Option<String> =
        sqlx::query_scalar("select provider_call_id from calls where id = $1")
            .bind(call)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(sid.as_deref(), Some("CA00000000000000000000000000000042"));
}

/// Posts a signed callback of `kind` (status, amd, recording) for `call` with `params`.
async fn post_callback(
    app: &TestApp,
    kind: &str,
    call: Uuid,
    params: &[(&str, &str)],
    sign_with: &str,
) -> u16 {
    let path = format!("/webhooks/twilio/{kind}?callId={call}");
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = signature::sign(sign_with, &format!("http://127.0.0.1{path}"), &params);
    app.client
        .post(app.url(&path))
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// What a callback could have changed on a call: status, provider id, answered-by,
/// outcome and how many recordings it lists.
async fn footprint(
    app: &TestApp,
    call: Uuid,
) -> (String, Option<String>, Option<String>, Option<String>, i64) {
    sqlx::query_as(
        "select status, provider_call_id, answered_by, outcome,
                (select count(*) from recordings where call_id = calls.id)
         from calls where id = $1",
    )
    .bind(call)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

const ACCOUNT_B: &str = "AC0000000000000000000000000000000b";
const TOKEN_B: &str = "organization-b-token";
const SID_A: &str = "CA00000000000000000000000000000042";

/// The three forged callbacks organization B could try on a call, as `account` and
/// naming `call_sid`.
fn forgeries<'a>(
    account: &'a str,
    call_sid: &'a str,
) -> Vec<(&'static str, Vec<(&'static str, &'a str)>)> {
    vec![
        (
            "recording",
            vec![
                ("AccountSid", account),
                ("CallSid", call_sid),
                ("RecordingStatus", "completed"),
                ("RecordingUrl", "https://evil.example/phish"),
            ],
        ),
        (
            "status",
            vec![
                ("AccountSid", account),
                ("CallSid", call_sid),
                ("CallStatus", "completed"),
                ("SequenceNumber", "9"),
            ],
        ),
        (
            "amd",
            vec![
                ("AccountSid", account),
                ("CallSid", call_sid),
                ("AnsweredBy", "machine_start"),
            ],
        ),
    ]
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn another_organization_cannot_sign_callbacks_for_a_call_with_its_own_trunk_token(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let (call_a, _) = call_on_account(&app, "Acme", ACCOUNT, AUTH_TOKEN).await;
    let (_call_b, _) = call_on_account(&app, "Evil", ACCOUNT_B, TOKEN_B).await;
    let before = footprint(&app, call_a).await;
    for (kind, params) in forgeries(ACCOUNT_B, SID_A) {
        assert_eq!(
            post_callback(&app, kind, call_a, &params, TOKEN_B).await,
            403,
            "{kind} signed by B's own account"
        );
    }
    // B naming A's account but signing with its own token is no better.
    for (kind, params) in forgeries(ACCOUNT, SID_A) {
        assert_eq!(
            post_callback(&app, kind, call_a, &params, TOKEN_B).await,
            403,
            "{kind} naming A's account, signed by B"
        );
    }
    assert_eq!(footprint(&app, call_a).await, before);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn two_organizations_registering_the_same_account_sid_cannot_affect_each_other(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (call_a, _) = call_on_account(&app, "Acme", ACCOUNT, AUTH_TOKEN).await;
    // B registers A's account SID with a token of its own choosing.
    let (call_b, _) = call_on_account(&app, "Evil", ACCOUNT, TOKEN_B).await;
    let before = footprint(&app, call_a).await;
    for (kind, params) in forgeries(ACCOUNT, SID_A) {
        assert_eq!(
            post_callback(&app, kind, call_a, &params, TOKEN_B).await,
            403,
            "{kind} for A's call signed with B's token"
        );
    }
    assert_eq!(footprint(&app, call_a).await, before);
    // Each organization's genuine callbacks still work, whichever registered first.
    let ringing = |sid| {
        vec![
            ("AccountSid", ACCOUNT),
            ("CallSid", sid),
            ("CallStatus", "ringing"),
        ]
    };
    assert_eq!(
        post_callback(&app, "status", call_a, &ringing(SID_A), AUTH_TOKEN).await,
        204
    );
    assert_eq!(
        post_callback(
            &app,
            "status",
            call_b,
            &ringing("CA000000000000000000000000000000bb"),
            TOKEN_B
        )
        .await,
        204
    );
    assert_eq!(status_of(&app, call_a).await, "ringing");
    assert_eq!(status_of(&app, call_b).await, "ringing");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn once_a_call_has_its_twilio_sid_callbacks_must_name_it(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (call, _) = call_on_own_account(&app).await;
    assert_eq!(post_status(&app, call, "ringing", 1, AUTH_TOKEN).await, 204);
    let recording = |sid: Option<&'static str>| {
        let mut params = vec![
            ("AccountSid", ACCOUNT),
            ("RecordingStatus", "completed"),
            ("RecordingUrl", "https://api.twilio.com/rec/RE1"),
        ];
        params.extend(sid.map(|sid| ("CallSid", sid)));
        params
    };
    // Omitted, or another call's sid: refused, signed though it is.
    assert_eq!(
        post_callback(&app, "recording", call, &recording(None), AUTH_TOKEN).await,
        403
    );
    assert_eq!(
        post_callback(
            &app,
            "recording",
            call,
            &recording(Some("CA00000000000000000000000000000099")),
            AUTH_TOKEN
        )
        .await,
        403
    );
    assert_eq!(footprint(&app, call).await.4, 0);
    assert_eq!(
        post_callback(&app, "recording", call, &recording(Some(SID_A)), AUTH_TOKEN).await,
        204
    );
    assert_eq!(footprint(&app, call).await.4, 1);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_callback_for_an_unknown_call_is_refused_like_a_bad_signature(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let params = [("AccountSid", ACCOUNT), ("CallStatus", "ringing")];
    assert_eq!(
        post_callback(&app, "status", Uuid::now_v7(), &params, AUTH_TOKEN).await,
        403
    );
}

const DEPLOYMENT_ACCOUNT: &str = "AC000000000000000000000000000000dd";
const DEPLOYMENT_TOKEN: &str = "deployment-auth-token";

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_call_on_the_deployments_account_takes_only_that_accounts_callbacks(db: PgPool) {
    let app = TestApp::spawn_with(db, |s| {
        s.twilio.account_sid = Some(DEPLOYMENT_ACCOUNT.into());
        s.twilio.auth_token = Some(secrecy::SecretString::from(DEPLOYMENT_TOKEN));
    })
    .await;
    // A trunk without an account of its own: its calls go out on the deployment's.
    let token = app.register("Acme").await;
    let trunk: Value = app
        .post(
            "/api/v1/trunks",
            &token,
            &json!({"name": "T", "provider": "twilio", "mode": "twilio_stream",
                    "numbers": ["+12125550100"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let call = Uuid::now_v7();
    sqlx::query(
        "insert into calls (id, org_id, trunk_id, mode, to_phone)
         select $1, org_id, id, 'twilio_stream', '+12125550142' from trunks where id = $2",
    )
    .bind(call)
    .bind(trunk["id"].as_str().unwrap().parse::<Uuid>().unwrap())
    .execute(&app.db)
    .await
    .unwrap();
    // Organization B registers the deployment's SID with a token of its own.
    call_on_account(&app, "Evil", DEPLOYMENT_ACCOUNT, TOKEN_B).await;
    let ringing = [
        ("AccountSid", DEPLOYMENT_ACCOUNT),
        ("CallSid", SID_A),
        ("CallStatus", "ringing"),
    ];
    assert_eq!(
        post_callback(&app, "status", call, &ringing, TOKEN_B).await,
        403
    );
    assert_eq!(status_of(&app, call).await, "queued");
    assert_eq!(
        post_callback(&app, "status", call, &ringing, DEPLOYMENT_TOKEN).await,
        204
    );
    assert_eq!(status_of(&app, call).await, "ringing");
}
