//! The agent-worker binary with `AW__LIVEKIT__*` set: SIGTERM makes it finish its live
//! LiveKit job, take no new one, and exit once that job has ended.

use std::time::Duration;

use outbound_tests::livekit::LiveKitServer;
use outbound_tests::process::{workspace_binary, AgentWorker};
use sqlx::PgPool;

use crate::support::*;
use crate::{event, WITHIN};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn on_sigterm_the_binary_finishes_its_livekit_job_takes_no_new_one_and_exits(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let base = control_plane(&db).await;
    let org = organization(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let settings: Vec<(String, String)> = [
        ("AW__SERVER__WORKER_ID", "sigterm-worker"),
        ("AW__RECORDING__ENABLED", "false"),
        ("AW__CONTROL_PLANE__URL", &base),
        ("AW__CONTROL_PLANE__API_KEY", WORKER_KEY),
        ("AW__CONTROL_PLANE__TOKEN_SECRET", TOKEN_SECRET),
        ("AW__LIVEKIT__URL", &livekit.url),
        ("AW__LIVEKIT__API_KEY", &livekit.api_key),
        ("AW__LIVEKIT__API_SECRET", &livekit.api_secret),
        ("AW__LIVEKIT__AGENT_NAME", AGENT_NAME),
        ("AW__LIVEKIT__MAX_JOBS", "2"),
        ("AW__LIVEKIT__STATUS_INTERVAL_MS", "500"),
        ("AW__LIVEKIT__ROOM_CHECK_MS", "200"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let binary = workspace_binary("agent-worker").unwrap();
    let log = dir.path().join("worker.log");
    let worker = AgentWorker::start(&binary, &settings, &[], &log)
        .await
        .unwrap();
    // Registration follows the HTTP listener by a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let lk = Dispatcher::new(&livekit);
    let (live, live_metadata) = call(&db, &base, org).await;
    lk.dispatch("binary-live", &live_metadata).await;
    assert_eq!(
        event(&db, live, "connected").await["workerId"],
        "sigterm-worker"
    );

    worker.terminate().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (next, next_metadata) = call(&db, &base, org).await;
    lk.dispatch("binary-next", &next_metadata).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        events(&db, next).await.is_empty(),
        "no new job while draining"
    );
    assert!(
        events(&db, live).await.iter().all(|e| e["type"] != "ended"),
        "the live job goes on"
    );

    lk.delete_room("binary-live").await;
    assert_eq!(event(&db, live, "ended").await["reason"], "room_finished");
    let status = tokio::time::timeout(WITHIN, worker.wait())
        .await
        .expect("the worker exits once its job has ended")
        .unwrap();
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
