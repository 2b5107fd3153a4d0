//! A campaign's progress, stats and calls, from rows written with SQL.

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{create_campaign, org};
use crate::calls::{insert_call, CallSeed};
use crate::helpers::{assert_error, TestApp};
use shared::{CallOutcome, CallStatus};

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn status_counts_the_queue_by_state(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 8).await;
    let before = json_of(app.get(&campaign.path("/status"), &org.token).await).await;
    assert_eq!(before["status"], "draft");
    assert_eq!(before["progress"]["total"], 0);

    app.post(&campaign.path("/start"), &org.token, &json!({}))
        .await;
    // Move the queue along as the engine would: one attempt per state.
    sqlx::query!(
        "with ranked as (select id, row_number() over (order by id) as n
                         from campaign_attempts where campaign_id = $1)
         update campaign_attempts a set state = (array['pending', 'leased', 'dialing', 'in_call',
             'done', 'exhausted', 'skipped', 'canceled'])[r.n]
         from ranked r where a.id = r.id",
        campaign.uuid()
    )
    .execute(&app.db)
    .await
    .unwrap();
    let status = json_of(app.get(&campaign.path("/status"), &org.token).await).await;
    assert_eq!(status["id"], campaign.id.as_str());
    assert_eq!(status["status"], "running");
    assert_eq!(status["statusReason"], Value::Null);
    assert_eq!(
        status["progress"],
        json!({"total": 8, "pending": 1, "inProgress": 3, "done": 1, "exhausted": 1,
               "skipped": 1, "canceled": 1})
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn stats_add_up_the_campaigns_calls_only(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 0).await;
    let empty = json_of(app.get(&campaign.path("/stats"), &org.token).await).await;
    assert_eq!(empty["callsTotal"], 0);
    assert_eq!(empty["answerRate"], 0.0);
    assert_eq!(empty["averageDurationSec"], 0.0);

    let seed = |status, outcome, answered, duration_sec, cost_cents| CallSeed {
        campaign_id: Some(campaign.uuid()),
        status,
        outcome,
        answered,
        duration_sec,
        cost_cents,
    };
    use CallStatus::*;
    for call in [
        seed(
            Completed,
            Some(CallOutcome::Interested),
            true,
            Some(60),
            10.5,
        ),
        seed(Completed, Some(CallOutcome::Voicemail), true, Some(20), 4.0),
        // Answered, then the line failed: still answered.
        seed(Failed, None, true, Some(10), 1.5),
        seed(Busy, None, false, None, 0.0),
        seed(NoAnswer, None, false, None, 0.0),
        // Live calls count in the totals but not in the answer rate.
        seed(InProgress, None, true, None, 2.0),
        seed(Queued, None, false, None, 0.0),
    ] {
        insert_call(&app, org.id, call).await;
    }
    // Another campaign's call and a call without campaign do not count.
    let other = create_campaign(&app, &org, 0).await;
    insert_call(
        &app,
        org.id,
        CallSeed {
            campaign_id: Some(other.uuid()),
            cost_cents: 99.0,
            ..CallSeed::default()
        },
    )
    .await;
    insert_call(&app, org.id, CallSeed::default()).await;

    let stats = json_of(app.get(&campaign.path("/stats"), &org.token).await).await;
    assert_eq!(stats["callsTotal"], 7);
    assert_eq!(stats["answered"], 3);
    assert_eq!(stats["answerRate"], 0.6, "3 answered of 5 ended");
    assert_eq!(stats["averageDurationSec"], 30.0);
    assert_eq!(stats["totalCostCents"], 18.0);
    assert_eq!(
        stats["outcomes"],
        json!({"interested": 1, "notInterested": 0, "callback": 0, "doNotCall": 0,
               "voicemail": 1, "wrongNumber": 0})
    );
    assert_eq!(
        stats["byStatus"],
        json!({"queued": 1, "initiated": 0, "ringing": 0, "inProgress": 1, "completed": 2,
               "busy": 1, "noAnswer": 1, "failed": 1, "canceled": 0})
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_campaigns_calls_page_holds_only_its_calls(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 0).await;
    for _ in 0..3 {
        let seed = CallSeed {
            campaign_id: Some(campaign.uuid()),
            ..CallSeed::default()
        };
        insert_call(&app, org.id, seed).await;
    }
    insert_call(&app, org.id, CallSeed::default()).await;
    let page = json_of(
        app.get(&campaign.path("/calls?perPage=2&page=2"), &org.token)
            .await,
    )
    .await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["page"], 2);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["campaignId"], campaign.id.as_str());

    let unknown = format!("/api/v1/campaigns/{}", Uuid::new_v4());
    for tail in ["/status", "/stats", "/calls"] {
        let response = app.get(&format!("{unknown}{tail}"), &org.token).await;
        assert_error(response, 404, "not_found").await;
    }
}
