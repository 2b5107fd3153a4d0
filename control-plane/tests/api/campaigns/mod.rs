//! Campaigns: create/read/update/delete with validation. Fixtures shared by the resource
//! tests are in `fixtures`, the life cycle in `lifecycle`, progress and stats in `reports`.

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{assert_error, id_of, TestApp};
use crate::trunks::{create_trunk, field_names, twilio_trunk};

mod fixtures;
mod lifecycle;
mod reports;
mod settling;

pub use fixtures::{
    add_contacts, campaign_body, contact_list, create_campaign, org, Campaign, Org,
};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_new_campaign_is_a_draft_with_the_documented_defaults(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 0).await;
    let body: Value = app
        .get(&campaign.path(""), &org.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "draft");
    assert_eq!(body["statusReason"], Value::Null);
    assert_eq!(body["mode"], "livekit_sip", "the trunk's mode");
    assert_eq!(
        body["schedule"],
        json!({"timezone": "America/New_York", "callingDays": ["mon", "wed", "fri"],
               "startHour": 9, "endHour": 18})
    );
    assert_eq!(body["allowOutsideLegalHours"], false);
    assert_eq!(body["maxConcurrentCalls"], 5);
    assert_eq!(body["maxAttempts"], 3);
    assert_eq!(
        body["retry"],
        json!({"busy": 30, "noAnswer": 60, "failed": 120, "voicemail": 240})
    );
    assert_eq!(body["amd"], json!({"enabled": false, "timeoutSec": 30}));
    assert_eq!(body["voicemail"], json!({"action": "hangup"}));
    assert_eq!(
        body["budget"],
        json!({"perCallCents": null, "monthlyCents": null})
    );
    assert_eq!(body["dailyCap"], Value::Null);
    assert_eq!(body["variables"], json!({}));
    assert_eq!(body["startedAt"], Value::Null);
    assert_eq!(body["finishedAt"], Value::Null);
    assert_eq!(body["assistantId"], campaign.assistant_id.as_str());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn every_setting_given_is_kept(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let assistant = app.create_assistant(&org.token).await;
    let trunk = id_of(
        app.post("/api/v1/trunks", &org.token, &twilio_trunk())
            .await,
    )
    .await;
    let list = contact_list(&app, org.id, 0).await;
    let mut body = campaign_body(&assistant, list, &trunk);
    let extra = json!({"mode": "twilio_stream", "allowOutsideLegalHours": true, "dailyCap": 200,
        "maxConcurrentCalls": 20, "callsPerMinute": 30, "maxAttempts": 5,
        "retry": {"busy": 0, "noAnswer": 15, "failed": 45, "voicemail": 1440},
        "amd": {"enabled": true, "timeoutSec": 10}, "voicemail": {"action": "leave_message"},
        "budget": {"perCallCents": 50, "monthlyCents": 100000},
        "campaignPrompt": "Offer {{product}} to {{name}}", "variables": {"product": "Plan B"}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let response = app.post("/api/v1/campaigns", &org.token, &body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    for (k, v) in extra.as_object().unwrap() {
        assert_eq!(&created[k], v, "{k}");
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_mode_other_than_the_trunks_is_422(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let assistant = app.create_assistant(&org.token).await;
    let trunk = create_trunk(&app, &org.token).await;
    let list = contact_list(&app, org.id, 0).await;
    let mut body = campaign_body(&assistant, list, &trunk);
    body["mode"] = json!("twilio_stream");
    let response = app.post("/api/v1/campaigns", &org.token, &body).await;
    let error = assert_error(response, 422, "validation_failed").await;
    assert_eq!(field_names(&error), ["mode"]);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn references_outside_the_organization_are_422_naming_each_field(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let acme = org(&app, "Acme").await;
    let globex = org(&app, "Globex").await;
    let theirs = create_campaign(&app, &globex, 0).await;
    let body = campaign_body(&theirs.assistant_id, theirs.list_id, &theirs.trunk_id);
    let response = app.post("/api/v1/campaigns", &acme.token, &body).await;
    let error = assert_error(response, 422, "validation_failed").await;
    assert_eq!(
        field_names(&error),
        ["assistantId", "contactListId", "trunkId"]
    );
    let body = campaign_body(
        &Uuid::new_v4().to_string(),
        Uuid::new_v4(),
        &Uuid::new_v4().to_string(),
    );
    let response = app.post("/api/v1/campaigns", &acme.token, &body).await;
    assert_error(response, 422, "validation_failed").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn invalid_settings_are_422_with_each_field_named(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 0).await;
    let mut body = campaign_body(&campaign.assistant_id, campaign.list_id, &campaign.trunk_id);
    body["name"] = json!("");
    body["schedule"] = json!({"timezone": "Moon/Base", "callingDays": ["mon", "someday", "mon"],
                              "startHour": 20, "endHour": 8});
    body["maxAttempts"] = json!(21);
    body["maxConcurrentCalls"] = json!(0);
    body["callsPerMinute"] = json!(0);
    body["amd"] = json!({"enabled": true, "timeoutSec": 61});
    body["retry"] = json!({"noAnswer": -5});
    body["voicemail"] = json!({"action": "sing"});
    body["budget"] = json!({"monthlyCents": 0});
    body["campaignPrompt"] = json!("Hello {{ }}");
    body["variables"] = json!({"tier": 3});
    let response = app.post("/api/v1/campaigns", &org.token, &body).await;
    let error = assert_error(response, 422, "validation_failed").await;
    let fields = field_names(&error);
    for expected in [
        "name",
        "schedule.timezone",
        "schedule.callingDays[1]",
        "schedule.callingDays[2]",
        "schedule.endHour",
        "maxAttempts",
        "maxConcurrentCalls",
        "callsPerMinute",
        "amd.timeoutSec",
        "retry.noAnswer",
        "voicemail.action",
        "budget.monthlyCents",
        "campaignPrompt",
        "variables.tier",
    ] {
        assert!(
            fields.contains(&expected.to_string()),
            "{expected} missing from {fields:?}"
        );
    }
    // The same checks guard updates.
    let response = app.put(&campaign.path(""), &org.token, &body).await;
    assert_error(response, 422, "validation_failed").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn campaigns_are_listed_newest_first_and_unknown_ids_are_404(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let first = create_campaign(&app, &org, 0).await;
    let second = create_campaign(&app, &org, 0).await;
    let list: Value = app
        .get("/api/v1/campaigns?perPage=1", &org.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 2);
    assert_eq!(list["data"][0]["id"], second.id.as_str());
    assert_ne!(list["data"][0]["id"], first.id.as_str());
    let unknown = format!("/api/v1/campaigns/{}", Uuid::new_v4());
    assert_error(app.get(&unknown, &org.token).await, 404, "not_found").await;
    let body = campaign_body(&first.assistant_id, first.list_id, &first.trunk_id);
    assert_error(app.put(&unknown, &org.token, &body).await, 404, "not_found").await;
    assert_error(app.delete(&unknown, &org.token).await, 404, "not_found").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_draft_or_paused_campaign_can_be_edited_but_a_running_one_cannot(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 2).await;
    let mut body = campaign_body(&campaign.assistant_id, campaign.list_id, &campaign.trunk_id);
    body["name"] = json!("Edited while draft");
    let edited: Value = app
        .put(&campaign.path(""), &org.token, &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edited["name"], "Edited while draft");

    let start = app
        .post(&campaign.path("/start"), &org.token, &json!({}))
        .await;
    assert_eq!(start.status(), 200);
    body["name"] = json!("Edited while running");
    let response = app.put(&campaign.path(""), &org.token, &body).await;
    assert_error(response, 409, "conflict").await;

    app.post(&campaign.path("/pause"), &org.token, &json!({}))
        .await;
    body["name"] = json!("Edited while paused");
    body["maxConcurrentCalls"] = json!(9);
    let edited: Value = app
        .put(&campaign.path(""), &org.token, &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edited["maxConcurrentCalls"], 9);
    assert_eq!(
        edited["status"], "paused",
        "editing does not move the status"
    );

    // The queue was built from the list, so a started campaign keeps it.
    body["contactListId"] = json!(contact_list(&app, org.id, 1).await);
    let response = app.put(&campaign.path(""), &org.token, &body).await;
    assert_error(response, 409, "conflict").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn only_drafts_and_ended_campaigns_can_be_deleted(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let draft = create_campaign(&app, &org, 1).await;
    assert_eq!(app.delete(&draft.path(""), &org.token).await.status(), 204);
    assert_error(app.get(&draft.path(""), &org.token).await, 404, "not_found").await;

    let campaign = create_campaign(&app, &org, 2).await;
    app.post(&campaign.path("/start"), &org.token, &json!({}))
        .await;
    let response = app.delete(&campaign.path(""), &org.token).await;
    let error = assert_error(response, 409, "conflict").await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("running"));
    app.post(&campaign.path("/stop"), &org.token, &json!({}))
        .await;
    assert_eq!(
        app.delete(&campaign.path(""), &org.token).await.status(),
        204
    );
    let attempts = sqlx::query_scalar!(
        r#"select count(*) as "n!" from campaign_attempts where campaign_id = $1"#,
        campaign.uuid()
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(attempts, 0, "the queue goes with the campaign");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_openapi_document_lists_trunk_campaign_call_and_metrics_routes(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected = [
        ("/api/v1/trunks", &["get", "post"][..]),
        ("/api/v1/trunks/{id}", &["get", "put", "delete"]),
        ("/api/v1/campaigns", &["get", "post"]),
        ("/api/v1/campaigns/{id}", &["get", "put", "delete"]),
        ("/api/v1/campaigns/{id}/start", &["post"]),
        ("/api/v1/campaigns/{id}/pause", &["post"]),
        ("/api/v1/campaigns/{id}/resume", &["post"]),
        ("/api/v1/campaigns/{id}/stop", &["post"]),
        ("/api/v1/campaigns/{id}/status", &["get"]),
        ("/api/v1/campaigns/{id}/stats", &["get"]),
        ("/api/v1/campaigns/{id}/calls", &["get"]),
        ("/api/v1/calls", &["get"]),
        ("/api/v1/calls/{id}", &["get"]),
        ("/api/v1/calls/{id}/transcript", &["get"]),
        ("/api/v1/calls/{id}/recordings", &["get"]),
        ("/api/v1/calls/{id}/outcome", &["put"]),
        ("/api/v1/metrics", &["get"]),
    ];
    for (path, methods) in expected {
        for method in methods {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
    }
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "TrunkView",
        "CampaignView",
        "CampaignInput",
        "CallView",
        "TrunkMode",
    ] {
        assert!(schemas[schema].is_object(), "schema {schema} missing");
    }
}
