//! Calls: list with filters, one call, transcript, recordings, and the outcome set by
//! hand. There is no create endpoint yet, so calls are written with SQL.

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::campaigns::{create_campaign, org, Org};
use crate::helpers::{assert_error, TestApp};
use shared::{CallOutcome, CallStatus};

/// A call row to write; everything else takes its column default.
pub struct CallSeed {
    pub campaign_id: Option<Uuid>,
    pub status: CallStatus,
    pub outcome: Option<CallOutcome>,
    pub answered: bool,
    pub duration_sec: Option<i32>,
    pub cost_cents: f64,
}

impl Default for CallSeed {
    fn default() -> Self {
        Self {
            campaign_id: None,
            status: CallStatus::Completed,
            outcome: None,
            answered: false,
            duration_sec: None,
            cost_cents: 0.0,
        }
    }
}

pub async fn insert_call(app: &TestApp, org_id: Uuid, seed: CallSeed) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into calls (id, org_id, campaign_id, mode, to_phone, from_phone, status, outcome,
                            answered_at, duration_sec, cost_cents, variables)
         values ($1, $2, $3, 'livekit_sip', '+14155550100', '+14155552671', $4, $5,
                 case when $6 then now() end, $7, $8, '{\"name\": \"Ada\"}')",
        id,
        org_id,
        seed.campaign_id,
        seed.status.as_str(),
        seed.outcome.map(CallOutcome::as_str),
        seed.answered,
        seed.duration_sec,
        seed.cost_cents
    )
    .execute(&app.db)
    .await
    .unwrap();
    id
}

/// One call with a transcript of three lines and one recording.
pub async fn call_with_artifacts(app: &TestApp, org: &Org) -> Uuid {
    let id = insert_call(app, org.id, CallSeed::default()).await;
    // Written out of order: the API orders by time.
    for (start, speaker, text) in [
        (2000, "callee", "Who is this?"),
        (0, "agent", "Hi Ada, this is Acme."),
        (4000, "agent", "Calling about your plan."),
    ] {
        sqlx::query!(
            "insert into transcript_entries (call_id, org_id, start_ms, end_ms, speaker, text, confidence)
             values ($1, $2, $3, $4, $5, $6, 0.9)",
            id,
            org.id,
            start,
            start + 1500,
            speaker,
            text
        )
        .execute(&app.db)
        .await
        .unwrap();
    }
    sqlx::query!(
        "insert into recordings (id, call_id, org_id, location, format, channels, duration_sec, size_bytes)
         values ($1, $2, $3, 's3://rec/a.wav', 'wav', 2, 61.5, 123456)",
        Uuid::now_v7(),
        id,
        org.id
    )
    .execute(&app.db)
    .await
    .unwrap();
    id
}

/// `total` of `/api/v1/calls` with this query string.
async fn total(app: &TestApp, token: &str, query: &str) -> Value {
    json_of(app.get(&format!("/api/v1/calls{query}"), token).await).await["total"].clone()
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_call_shows_every_field_with_the_shared_spellings(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let id = insert_call(
        &app,
        org.id,
        CallSeed {
            status: CallStatus::NoAnswer,
            ..CallSeed::default()
        },
    )
    .await;
    let call = json_of(app.get(&format!("/api/v1/calls/{id}"), &org.token).await).await;
    assert_eq!(call["status"], "no_answer");
    assert_eq!(call["mode"], "livekit_sip");
    assert_eq!(call["to"], "+14155550100");
    assert_eq!(call["from"], "+14155552671");
    assert_eq!(call["variables"], json!({"name": "Ada"}));
    assert_eq!(call["costCents"], 0.0);
    assert_eq!(call["costBreakdown"], json!({}));
    for key in [
        "campaignId",
        "contactId",
        "assistantId",
        "assistantVersion",
        "trunkId",
        "answeredBy",
        "outcome",
        "outcomeNotes",
        "providerCallId",
        "roomName",
        "startedAt",
        "answeredAt",
        "endedAt",
        "durationSec",
        "endReason",
        "latency",
        "createdAt",
        "updatedAt",
    ] {
        assert!(call.get(key).is_some(), "{key} missing");
    }
    let unknown = format!("/api/v1/calls/{}", Uuid::new_v4());
    assert_error(app.get(&unknown, &org.token).await, 404, "not_found").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn calls_filter_by_campaign_status_and_outcome(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 0).await;
    let in_campaign = |status, outcome| CallSeed {
        campaign_id: Some(campaign.uuid()),
        status,
        outcome,
        ..CallSeed::default()
    };
    insert_call(
        &app,
        org.id,
        in_campaign(CallStatus::Completed, Some(CallOutcome::Interested)),
    )
    .await;
    insert_call(
        &app,
        org.id,
        in_campaign(CallStatus::Completed, Some(CallOutcome::NotInterested)),
    )
    .await;
    insert_call(&app, org.id, in_campaign(CallStatus::Busy, None)).await;
    insert_call(&app, org.id, CallSeed::default()).await;

    assert_eq!(total(&app, &org.token, "").await, 4);
    let by_campaign = format!("?campaignId={}", campaign.id);
    let page = json_of(
        app.get(&format!("/api/v1/calls{by_campaign}"), &org.token)
            .await,
    )
    .await;
    assert_eq!(page["total"], 3);
    assert_eq!(total(&app, &org.token, "?status=completed").await, 3);
    assert_eq!(total(&app, &org.token, "?status=busy").await, 1);
    assert_eq!(total(&app, &org.token, "?outcome=not_interested").await, 1);
    let both = format!(
        "?campaignId={}&status=completed&outcome=interested&perPage=1",
        campaign.id
    );
    let page = json_of(app.get(&format!("/api/v1/calls{both}"), &org.token).await).await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["data"][0]["outcome"], "interested");

    let error = assert_error(
        app.get("/api/v1/calls?status=no-answer&outcome=maybe", &org.token)
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(crate::trunks::field_names(&error), ["status", "outcome"]);
    assert_error(
        app.get("/api/v1/calls?perPage=501", &org.token).await,
        422,
        "validation_failed",
    )
    .await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_transcript_is_in_spoken_order_with_a_full_text(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let id = call_with_artifacts(&app, &org).await;
    let transcript = json_of(
        app.get(&format!("/api/v1/calls/{id}/transcript"), &org.token)
            .await,
    )
    .await;
    let entries = transcript["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries[0],
        json!({"startMs": 0, "endMs": 1500, "speaker": "agent",
               "text": "Hi Ada, this is Acme.", "confidence": 0.9})
    );
    assert_eq!(
        transcript["fullText"],
        "Agent: Hi Ada, this is Acme.\nCallee: Who is this?\nAgent: Calling about your plan."
    );
    // A call without a transcript has an empty one, not a 404.
    let silent = insert_call(&app, org.id, CallSeed::default()).await;
    let empty = json_of(
        app.get(&format!("/api/v1/calls/{silent}/transcript"), &org.token)
            .await,
    )
    .await;
    assert_eq!(empty, json!({"entries": [], "fullText": ""}));
    let unknown = format!("/api/v1/calls/{}/transcript", Uuid::new_v4());
    assert_error(app.get(&unknown, &org.token).await, 404, "not_found").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn recordings_are_listed_with_their_metadata(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let id = call_with_artifacts(&app, &org).await;
    let recordings = json_of(
        app.get(&format!("/api/v1/calls/{id}/recordings"), &org.token)
            .await,
    )
    .await;
    let data = recordings["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["location"], "s3://rec/a.wav");
    assert_eq!(data[0]["format"], "wav");
    assert_eq!(data[0]["channels"], 2);
    assert_eq!(data[0]["durationSec"], 61.5);
    assert_eq!(data[0]["sizeBytes"], 123456);
    assert!(data[0]["id"].is_string() && data[0]["createdAt"].is_string());
    let unknown = format!("/api/v1/calls/{}/recordings", Uuid::new_v4());
    assert_error(app.get(&unknown, &org.token).await, 404, "not_found").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_operator_can_set_the_outcome_but_only_a_known_one(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let id = insert_call(&app, org.id, CallSeed::default()).await;
    let path = format!("/api/v1/calls/{id}/outcome");
    let call = json_of(
        app.put(
            &path,
            &org.token,
            &json!({"outcome": "callback", "notes": "Tuesday 3pm"}),
        )
        .await,
    )
    .await;
    assert_eq!(call["outcome"], "callback");
    assert_eq!(call["outcomeNotes"], "Tuesday 3pm");
    let call = json_of(
        app.put(&path, &org.token, &json!({"outcome": "do_not_call"}))
            .await,
    )
    .await;
    assert_eq!(call["outcome"], "do_not_call");
    assert_eq!(call["outcomeNotes"], Value::Null);

    let error = assert_error(
        app.put(&path, &org.token, &json!({"outcome": "do-not-call"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(crate::trunks::field_names(&error), ["outcome"]);
    let unknown = format!("/api/v1/calls/{}/outcome", Uuid::new_v4());
    let response = app
        .put(&unknown, &org.token, &json!({"outcome": "callback"}))
        .await;
    assert_error(response, 404, "not_found").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn calls_filter_by_creation_date_as_instants_or_whole_days(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    for created_at in [
        "2026-11-30T23:59:59Z",
        "2026-12-01T00:00:00Z",
        "2026-12-01T12:00:00Z",
        "2026-12-02T08:30:00Z",
    ] {
        let id = insert_call(&app, org.id, CallSeed::default()).await;
        sqlx::query!(
            "update calls set created_at = $2::text::timestamptz where id = $1",
            id,
            created_at
        )
        .execute(&app.db)
        .await
        .unwrap();
    }

    assert_eq!(total(&app, &org.token, "?from=2026-12-01").await, 3);
    assert_eq!(total(&app, &org.token, "?to=2026-11-30").await, 1);
    assert_eq!(
        total(&app, &org.token, "?from=2026-12-01&to=2026-12-01").await,
        2,
        "a date bound includes its whole day"
    );
    assert_eq!(
        total(
            &app,
            &org.token,
            "?from=2026-12-01T01:00:00%2B01:00&to=2026-12-02T08:30:00Z"
        )
        .await,
        2,
        "instants are exact, `to` exclusive, offsets honoured"
    );

    let error = assert_error(
        app.get("/api/v1/calls?from=yesterday&to=2026-13-01", &org.token)
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(crate::trunks::field_names(&error), ["from", "to"]);
    let error = assert_error(
        app.get("/api/v1/calls?from=2026-12-02&to=2026-12-01", &org.token)
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(crate::trunks::field_names(&error), ["to"]);
}
