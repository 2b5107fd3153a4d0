//! The campaign life cycle through the API: every move, its effect on the dial queue,
//! refused moves, and two starts racing.

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{add_contacts, create_campaign, org, Campaign, Org};
use crate::helpers::{assert_error, TestApp};

async fn act(app: &TestApp, org: &Org, campaign: &Campaign, action: &str) -> reqwest::Response {
    app.post(
        &campaign.path(&format!("/{action}")),
        &org.token,
        &json!({}),
    )
    .await
}

async fn act_ok(app: &TestApp, org: &Org, campaign: &Campaign, action: &str) -> Value {
    let response = act(app, org, campaign, action).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{action}: {body}");
    body
}

/// Attempt counts by state.
async fn attempts(app: &TestApp, campaign: &Campaign) -> Vec<(String, i64)> {
    sqlx::query!(
        r#"select state, count(*) as "n!" from campaign_attempts where campaign_id = $1
           group by state order by state"#,
        campaign.uuid()
    )
    .fetch_all(&app.db)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.state, r.n))
    .collect()
}

async fn set_status(app: &TestApp, campaign: &Campaign, status: &str) {
    sqlx::query!(
        "update campaigns set status = $2, status_reason = 'engine says so' where id = $1",
        campaign.uuid(),
        status
    )
    .execute(&app.db)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn start_queues_exactly_one_attempt_per_contact(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 3).await;
    let body = act_ok(&app, &org, &campaign, "start").await;
    assert_eq!(body["status"], "running");
    assert!(body["startedAt"].is_string());
    assert_eq!(body["finishedAt"], Value::Null);
    assert_eq!(attempts(&app, &campaign).await, [("pending".into(), 3)]);
    let per_contact = sqlx::query_scalar!(
        r#"select count(distinct contact_id) as "n!" from campaign_attempts where campaign_id = $1"#,
        campaign.uuid()
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(per_contact, 3);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn starting_over_an_empty_list_is_refused_and_leaves_a_draft(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 0).await;
    let error = assert_error(act(&app, &org, &campaign, "start").await, 409, "conflict").await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("empty"));
    let body: Value = app
        .get(&campaign.path(""), &org.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "draft");
    assert_eq!(body["startedAt"], Value::Null);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn resume_queues_contacts_added_while_paused_and_keeps_the_rest(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 2).await;
    let started = act_ok(&app, &org, &campaign, "start").await;
    // The engine finished one of them meanwhile.
    sqlx::query!(
        "update campaign_attempts set state = 'done' where id =
           (select id from campaign_attempts where campaign_id = $1 limit 1)",
        campaign.uuid()
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(
        act_ok(&app, &org, &campaign, "pause").await["status"],
        "paused"
    );
    add_contacts(&app, org.id, campaign.list_id, 2).await;
    let resumed = act_ok(&app, &org, &campaign, "resume").await;
    assert_eq!(resumed["status"], "running");
    assert_eq!(
        resumed["startedAt"], started["startedAt"],
        "first start kept"
    );
    assert_eq!(
        attempts(&app, &campaign).await,
        [("done".into(), 1), ("pending".into(), 3)]
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn stop_cancels_pending_attempts_and_lets_calls_in_progress_finish(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 3).await;
    act_ok(&app, &org, &campaign, "start").await;
    sqlx::query!(
        "update campaign_attempts set state = 'in_call' where id =
           (select id from campaign_attempts where campaign_id = $1 limit 1)",
        campaign.uuid()
    )
    .execute(&app.db)
    .await
    .unwrap();
    let stopped = act_ok(&app, &org, &campaign, "stop").await;
    assert_eq!(stopped["status"], "stopped");
    assert!(stopped["finishedAt"].is_string());
    assert_eq!(
        attempts(&app, &campaign).await,
        [("canceled".into(), 2), ("in_call".into(), 1)]
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_paused_or_failed_campaign_can_be_stopped_and_a_failed_one_resumed(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 1).await;
    act_ok(&app, &org, &campaign, "start").await;
    act_ok(&app, &org, &campaign, "pause").await;
    assert_eq!(
        act_ok(&app, &org, &campaign, "stop").await["status"],
        "stopped"
    );

    let failed = create_campaign(&app, &org, 1).await;
    act_ok(&app, &org, &failed, "start").await;
    set_status(&app, &failed, "error").await;
    let resumed = act_ok(&app, &org, &failed, "resume").await;
    assert_eq!(resumed["status"], "running");
    assert_eq!(
        resumed["statusReason"],
        Value::Null,
        "the old reason is cleared"
    );
    set_status(&app, &failed, "error").await;
    assert_eq!(
        act_ok(&app, &org, &failed, "stop").await["status"],
        "stopped"
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn moves_the_status_does_not_allow_are_409_saying_why(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 1).await;
    let refused = [
        ("draft", "pause", "cannot pause a campaign that is draft"),
        ("draft", "resume", "cannot resume a campaign that is draft"),
        ("draft", "stop", "cannot stop a campaign that is draft"),
        (
            "running",
            "start",
            "cannot start a campaign that is running",
        ),
        (
            "running",
            "resume",
            "cannot resume a campaign that is running",
        ),
        ("paused", "pause", "cannot pause a campaign that is paused"),
        ("paused", "start", "cannot start a campaign that is paused"),
        (
            "stopped",
            "start",
            "cannot start a campaign that is stopped",
        ),
        (
            "stopped",
            "resume",
            "cannot resume a campaign that is stopped",
        ),
        ("stopped", "stop", "cannot stop a campaign that is stopped"),
        (
            "completed",
            "resume",
            "cannot resume a campaign that is completed",
        ),
        (
            "completed",
            "stop",
            "cannot stop a campaign that is completed",
        ),
        ("error", "pause", "cannot pause a campaign that is error"),
    ];
    for (status, action, message) in refused {
        set_status(&app, &campaign, status).await;
        let error = assert_error(act(&app, &org, &campaign, action).await, 409, "conflict").await;
        assert_eq!(error["error"]["message"], message);
    }
    let unknown = Campaign {
        id: Uuid::new_v4().to_string(),
        list_id: campaign.list_id,
        trunk_id: campaign.trunk_id.clone(),
        assistant_id: campaign.assistant_id.clone(),
    };
    for action in ["start", "pause", "resume", "stop"] {
        assert_error(act(&app, &org, &unknown, action).await, 404, "not_found").await;
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn of_two_concurrent_starts_exactly_one_wins(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 50).await;
    let (a, b) = tokio::join!(
        act(&app, &org, &campaign, "start"),
        act(&app, &org, &campaign, "start")
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(attempts(&app, &campaign).await, [("pending".into(), 50)]);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn of_two_concurrent_resumes_or_stops_exactly_one_wins(db: PgPool) {
    // Unlike start, these have no empty-queue check that could refuse the loser anyway:
    // only the conditional status update keeps both from succeeding.
    let app = TestApp::spawn(db).await;
    let org = org(&app, "Acme").await;
    let campaign = create_campaign(&app, &org, 5).await;
    act_ok(&app, &org, &campaign, "start").await;
    act_ok(&app, &org, &campaign, "pause").await;
    for action in ["resume", "stop"] {
        let (a, b) = tokio::join!(
            act(&app, &org, &campaign, action),
            act(&app, &org, &campaign, action)
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{action}");
    }
}
