//! Compliance through the API: the disclosure check and the organization's switch,
//! consent on contacts (JSON and CSV), telemarketing and abandonment settings on
//! campaigns, the source of Do-Not-Call entries, and a contact's history. Dialing under
//! these rules is tested end to end in `tests/tests/compliance`.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::contacts::{create_list, upload_csv};
use crate::helpers::{assert_error, id_of, TestApp};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_assistant_that_does_not_disclose_itself_is_refused_unless_the_organization_allows_it(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let acme = app.register("Acme").await;
    let globex = app.register("Globex").await;
    let undisclosed = json!({"name": "Ava", "systemPrompt": "Sell.",
                             "firstMessage": "Hi {{name}}, this is Ava from Acme."});
    let body = assert_error(
        app.post("/api/v1/assistants", &acme, &undisclosed).await,
        422,
        "validation_failed",
    )
    .await;
    let details = body["error"]["details"].to_string();
    assert!(details.contains("firstMessage"), "{details}");
    assert!(details.contains("automated"), "{details}");
    // No first message at all: the callee would hear no disclosure either.
    let silent = json!({"name": "Ava", "systemPrompt": "Sell."});
    assert_error(
        app.post("/api/v1/assistants", &acme, &silent).await,
        422,
        "validation_failed",
    )
    .await;

    let settings: Value = app
        .put(
            "/api/v1/compliance",
            &acme,
            &json!({"allowUndisclosedAssistants": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["allowUndisclosedAssistants"], true);
    assert!(settings["stateRules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["state"] == "FL" && r["endHour"] == 20));
    let created = app.post("/api/v1/assistants", &acme, &undisclosed).await;
    assert_eq!(created.status(), 201);
    // The switch is Acme's alone.
    assert_error(
        app.post("/api/v1/assistants", &globex, &undisclosed).await,
        422,
        "validation_failed",
    )
    .await;
    let globex_view: Value = app
        .get("/api/v1/compliance", &globex)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(globex_view["allowUndisclosedAssistants"], false);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn contacts_carry_their_consent_from_json_and_csv(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    let report: Value = app
        .post(
            &path,
            &token,
            &json!({"contacts": [
                {"phone": "+12125550101", "consent": {"kind": "written", "source": "web form 7",
                                                       "at": "2026-01-31T12:00:00Z"}},
                {"phone": "+12125550102", "consent": {"kind": "verbal"}}
            ]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["accepted"], 1);
    assert_eq!(report["rejected"], 1);
    assert!(
        report.to_string().contains("unknown consent kind"),
        "{report}"
    );
    let csv = "phone,consent_kind,consent_source,consent_at\n\
               +12125550103,express,signup,2026-02-01T09:00:00Z\n\
               +12125550104,,,\n\
               +12125550105,written,,not-a-time\n";
    let report = upload_csv(&app, &token, &path, csv).await;
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["rejected"], 1, "{report}");
    let contacts: Value = app.get(&path, &token).await.json().await.unwrap();
    let by_phone = |phone: &str| {
        contacts["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["phone"] == phone)
            .cloned()
            .unwrap()
    };
    let written = by_phone("+12125550101");
    assert_eq!(written["consent"]["kind"], "written");
    assert_eq!(written["consent"]["source"], "web form 7");
    assert_eq!(written["consent"]["at"], "2026-01-31T12:00:00Z");
    assert_eq!(by_phone("+12125550103")["consent"]["kind"], "express");
    assert_eq!(by_phone("+12125550104")["consent"], Value::Null);
    // A consent column is not a template variable.
    assert!(by_phone("+12125550103")["variables"]
        .as_object()
        .unwrap()
        .is_empty());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_campaign_keeps_its_telemarketing_flag_and_a_bad_threshold_is_422(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let assistant = app.create_assistant(&token).await;
    let list = create_list(&app, &token).await;
    let trunk = id_of(
        app.post(
            "/api/v1/trunks",
            &token,
            &json!({"name": "T", "provider": "twilio", "mode": "twilio_stream",
                    "numbers": ["+12125550100"]}),
        )
        .await,
    )
    .await;
    let mut body = json!({"name": "Sale", "assistantId": assistant, "contactListId": list,
        "trunkId": trunk, "telemarketing": true,
        "schedule": {"timezone": "America/New_York", "callingDays": ["mon"],
                     "startHour": 9, "endHour": 17}});
    let created: Value = app
        .post("/api/v1/campaigns", &token, &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["telemarketing"], true);
    assert_eq!(created["abandonmentThresholdPct"], 3.0);
    body["abandonmentThresholdPct"] = json!(101);
    let refused = assert_error(
        app.post("/api/v1/campaigns", &token, &body).await,
        422,
        "validation_failed",
    )
    .await;
    assert!(refused.to_string().contains("abandonmentThresholdPct"));
    let stats: Value = app
        .get(
            &format!(
                "/api/v1/campaigns/{}/stats",
                created["id"].as_str().unwrap()
            ),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["abandonment"]["answered"], 0);
    assert_eq!(stats["abandonment"]["thresholdPct"], 3.0);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn dnc_entries_say_where_they_came_from(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let added: Value = app
        .post("/api/v1/dnc", &token, &json!({"phone": "+12125550199"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(added["source"], "api");
    upload_csv(&app, &token, "/api/v1/dnc/import", "phone\n+12125550198\n").await;
    let list: Value = app
        .get("/api/v1/dnc?phone=%2B12125550198", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["source"], "import");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_contacts_history_is_the_organizations_own(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let acme = app.register("Acme").await;
    let globex = app.register("Globex").await;
    let list = create_list(&app, &acme).await;
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    app.post(
        &path,
        &acme,
        &json!({"contacts": [{"phone": "+12125550101"}]}),
    )
    .await;
    let contacts: Value = app.get(&path, &acme).await.json().await.unwrap();
    let id = contacts["data"][0]["id"].as_str().unwrap().to_string();
    let history: Value = app
        .get(&format!("/api/v1/contacts/{id}/history"), &acme)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["total"], 0);
    let csv = app
        .get(&format!("/api/v1/contacts/{id}/history?format=csv"), &acme)
        .await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv.text().await.unwrap().starts_with("at,campaign_id"));
    assert_error(
        app.get(&format!("/api/v1/contacts/{id}/history"), &globex)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get(&format!("/api/v1/contacts/{id}/history?format=xml"), &acme)
            .await,
        400,
        "bad_request",
    )
    .await;
}
