//! The end-of-call reporter drains a backlog bigger than one pass, one report per call.

use serde_json::Value;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

use crate::helpers::TestApp;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_backlog_bigger_than_one_pass_is_reported_once_per_call(db: PgPool) {
    let app = TestApp::spawn(db).await;
    app.register("Acme").await;
    let org: Uuid = sqlx::query_scalar("select id from organizations limit 1")
        .fetch_one(&app.db)
        .await
        .unwrap();
    // 300 ended, never-answered calls: due at once (a pass takes 256).
    let mut calls: Vec<Uuid> = (0..300).map(|_| Uuid::now_v7()).collect();
    calls.sort();
    sqlx::query(
        "insert into calls (id, org_id, mode, to_phone, status, ended_at)
         select id, $2, 'twilio_stream', '+12125550142', 'busy', now() from unnest($1::uuid[]) id",
    )
    .bind(&calls)
    .bind(org)
    .execute(&app.db)
    .await
    .unwrap();

    let reports = || async {
        sqlx::query_as::<_, (Uuid, Value)>(
            "select call_id, data from org_events where type = 'call.report' order by call_id",
        )
        .fetch_all(&app.db)
        .await
        .unwrap()
    };
    let started = Instant::now();
    while reports().await.len() < calls.len() && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A few more polls: nothing is reported twice.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let reported = reports().await;
    assert_eq!(reported.len(), calls.len(), "one report per call");
    for ((subject, data), call) in reported.iter().zip(&calls) {
        assert_eq!(subject, call);
        assert_eq!(data["callId"], call.to_string());
        assert_eq!(data["status"], "busy");
        assert_eq!(data["transcript"], serde_json::json!([]));
    }
    let unreported: i64 = sqlx::query_scalar("select count(*) from calls where not report_emitted")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(unreported, 0);
}
