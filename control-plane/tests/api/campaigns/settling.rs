//! Settling many of a campaign's attempts at once (their calls' final callbacks arriving
//! together, as when a burst of dials meets busy callees): the campaign completes with
//! its last attempt, and not while one is left. The per-campaign lock in the engine's
//! settlement is what makes the last of simultaneous settlements see the others; any
//! cheaper "anything left?" check in front of it must survive these races.

use chrono::Utc;
use control_plane::engine::{apply_call_status, StatusUpdate};
use serde_json::json;
use shared::CallStatus;
use sqlx::PgPool;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{create_campaign, org};
use crate::helpers::TestApp;

/// A running campaign of a new organization `name`, with `contacts` attempts of one try
/// each; the first `dialing` of them are `dialing` with a call, the rest stay `pending`.
/// The campaign's and the calls' ids.
async fn campaign_dialing(
    app: &TestApp,
    name: &str,
    contacts: usize,
    dialing: usize,
) -> (Uuid, Vec<Uuid>) {
    let org = org(app, name).await;
    let campaign = create_campaign(app, &org, contacts).await;
    let started = app
        .post(&campaign.path("/start"), &org.token, &json!({}))
        .await;
    assert_eq!(started.status(), 200);
    let id = campaign.uuid();
    sqlx::query("update campaigns set max_attempts = 1 where id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    let attempts: Vec<Uuid> =
        sqlx::query_scalar("select id from campaign_attempts where campaign_id = $1 order by id")
            .bind(id)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(attempts.len(), contacts);
    let mut calls = Vec::new();
    for attempt in attempts.into_iter().take(dialing) {
        let call = Uuid::now_v7();
        sqlx::query(
            "insert into calls (id, org_id, trunk_id, campaign_id, mode, to_phone)
             select $1, org_id, id, $3, mode, '+12125550142' from trunks where id = $2",
        )
        .bind(call)
        .bind(campaign.trunk_id.parse::<Uuid>().unwrap())
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
        sqlx::query(
            "update campaign_attempts set state = 'dialing', attempts = 1, last_call_id = $2
             where id = $1",
        )
        .bind(attempt)
        .bind(call)
        .execute(&app.db)
        .await
        .unwrap();
        calls.push(call);
    }
    (id, calls)
}

/// Every call's final `busy` callback, all at once.
async fn all_busy_at_once(db: &PgPool, calls: &[Uuid]) {
    let mut settling = JoinSet::new();
    for &call in calls {
        let db = db.clone();
        settling.spawn(async move {
            let update = StatusUpdate {
                status: CallStatus::Busy,
                at: Utc::now(),
                provider_call_id: Some(format!("CA{}", call.simple())),
                duration_sec: Some(0),
                answered_by: None,
                sequence: Some(1),
            };
            apply_call_status(&db, call, &update).await.unwrap()
        });
    }
    while let Some(changed) = settling.join_next().await {
        assert!(changed.unwrap(), "every callback moves its call");
    }
}

async fn status_and_left(db: &PgPool, campaign: Uuid) -> (String, i64) {
    sqlx::query_as(
        "select status, (select count(*) from campaign_attempts
                         where campaign_id = $1
                           and state in ('pending', 'leased', 'dialing', 'in_call'))
         from campaigns where id = $1",
    )
    .bind(campaign)
    .fetch_one(db)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_last_of_many_attempts_settled_at_once_completes_the_campaign(db: PgPool) {
    let app = TestApp::spawn(db).await;
    // Several rounds: which settlement comes last (and which skip the lock) varies.
    for round in 0..4 {
        let (campaign, calls) = campaign_dialing(&app, &format!("Acme {round}"), 24, 24).await;
        all_busy_at_once(&app.db, &calls).await;
        assert_eq!(
            status_and_left(&app.db, campaign).await,
            ("completed".to_string(), 0)
        );
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_attempt_still_pending_keeps_the_campaign_running(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (campaign, calls) = campaign_dialing(&app, "Acme", 12, 11).await;
    all_busy_at_once(&app.db, &calls).await;
    assert_eq!(
        status_and_left(&app.db, campaign).await,
        ("running".to_string(), 1)
    );
}
