//! The agent worker's LiveKit side against a real livekit-server (with Redis) and the real
//! control plane on a fresh database: registration, dispatched jobs fetched and reported,
//! availability from real load, the drain on SIGTERM, and reconnecting after the
//! connection is lost. Needs `DATABASE_URL`, livekit-server (see `outbound_tests::livekit`)
//! and, for `binary`, the built `agent-worker` (`cargo build -p agent-worker`).

mod binary;
mod restart;
mod support;

use std::time::Duration;

use outbound_tests::livekit::LiveKitServer;
use sqlx::PgPool;
use support::*;

pub(crate) const WITHIN: Duration = Duration::from_secs(15);

/// Waits until the call has an event of `kind` and returns it.
pub(crate) async fn event(db: &PgPool, call: uuid::Uuid, kind: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        if let Some(found) = events(db, call)
            .await
            .into_iter()
            .find(|e| e["type"] == kind)
        {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {kind} event within {WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_dispatched_job_is_fetched_reported_connected_and_ended_when_its_room_is_deleted(
    db: PgPool,
) {
    let livekit = LiveKitServer::start().await.unwrap();
    let base = control_plane(&db).await;
    let org = organization(&base).await;
    let w = worker(&base, &livekit, &livekit.url, 4, |_| {});
    w.registered(1).await;
    assert!(w.livekit.livekit_worker_id().is_some());
    let (call, metadata) = call(&db, &base, org).await;
    let lk = Dispatcher::new(&livekit);

    lk.dispatch("call-room-1", &metadata).await;
    let connected = event(&db, call, "connected").await;
    assert_eq!(connected["workerId"], w.worker.worker_id);
    assert_eq!(w.livekit.live_jobs(), 1, "the job stays live");
    assert_eq!(w.worker.capacity.active(), 1, "and holds a call slot");

    lk.delete_room("call-room-1").await;
    let ended = event(&db, call, "ended").await;
    assert_eq!(ended["reason"], "room_finished");
    eventually(WITHIN, "the job's slot is given back", || async {
        w.livekit.live_jobs() == 0 && w.worker.capacity.active() == 0
    })
    .await;
    assert_eq!(w.livekit.ended_jobs(), (1, 0));
    let kinds: Vec<_> = events(&db, call)
        .await
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(kinds, ["connected", "ended"]);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_job_livekit_terminates_ends_while_its_room_stays(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let base = control_plane(&db).await;
    let org = organization(&base).await;
    let w = worker(&base, &livekit, &livekit.url, 4, |_| {});
    w.registered(1).await;
    let (call, metadata) = call(&db, &base, org).await;
    let lk = Dispatcher::new(&livekit);

    let dispatch = lk.dispatch("kept-room", &metadata).await;
    event(&db, call, "connected").await;
    lk.delete_dispatch(&dispatch, "kept-room").await;
    assert_eq!(event(&db, call, "ended").await["reason"], "job_terminated");
    eventually(WITHIN, "the job succeeds", || async {
        w.livekit.ended_jobs() == (1, 0) && w.livekit.live_jobs() == 0
    })
    .await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_job_with_a_forged_token_fails_and_reports_nothing(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let base = control_plane(&db).await;
    let org = organization(&base).await;
    let w = worker(&base, &livekit, &livekit.url, 4, |_| {});
    w.registered(1).await;
    let (call, _) = call(&db, &base, org).await;
    let forged = serde_json::json!({"callId": call, "token": "not-a-token"}).to_string();

    Dispatcher::new(&livekit)
        .dispatch("forged-room", &forged)
        .await;
    eventually(WITHIN, "the job fails", || async {
        w.livekit.ended_jobs() == (0, 1)
    })
    .await;
    eventually(WITHIN, "the failed job gives its slot back", || async {
        w.livekit.live_jobs() == 0 && w.worker.capacity.active() == 0
    })
    .await;
    assert!(events(&db, call).await.is_empty());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn two_workers_limited_to_one_job_take_two_dispatches_one_each(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let base = control_plane(&db).await;
    let org = organization(&base).await;
    let a = worker(&base, &livekit, &livekit.url, 1, |_| {});
    let b = worker(&base, &livekit, &livekit.url, 1, |_| {});
    a.registered(1).await;
    b.registered(1).await;
    let lk = Dispatcher::new(&livekit);
    let (first, first_metadata) = call(&db, &base, org).await;
    let (second, second_metadata) = call(&db, &base, org).await;

    lk.dispatch("room-a", &first_metadata).await;
    lk.dispatch("room-b", &second_metadata).await;
    let one = event(&db, first, "connected").await;
    let other = event(&db, second, "connected").await;
    assert_ne!(one["workerId"], other["workerId"], "one job each");
    assert_eq!((a.livekit.live_jobs(), b.livekit.live_jobs()), (1, 1));

    // Both are full: a third dispatch finds no worker.
    let (third, third_metadata) = call(&db, &base, org).await;
    lk.dispatch("room-c", &third_metadata).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(events(&db, third).await.is_empty());
    assert_eq!((a.livekit.live_jobs(), b.livekit.live_jobs()), (1, 1));
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_worker_takes_jobs_up_to_its_limit_not_only_up_to_the_servers_target_load(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let base = control_plane(&db).await;
    let org = organization(&base).await;
    // livekit-server gives jobs only to workers whose load is under its `target_load`
    // (0.7 by default): three jobs of four must still leave the fourth slot wanted.
    let w = worker(&base, &livekit, &livekit.url, 4, |_| {});
    w.registered(1).await;
    let lk = Dispatcher::new(&livekit);
    for room in ["full-1", "full-2", "full-3", "full-4"] {
        let (call, metadata) = call(&db, &base, org).await;
        lk.dispatch(room, &metadata).await;
        event(&db, call, "connected").await;
    }
    assert_eq!(w.livekit.live_jobs(), 4);

    // Full now: a fifth dispatch finds no worker.
    let (fifth, fifth_metadata) = call(&db, &base, org).await;
    lk.dispatch("full-5", &fifth_metadata).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(events(&db, fifth).await.is_empty());
    assert_eq!(w.livekit.live_jobs(), 4);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_worker_whose_call_slots_are_taken_answers_not_available(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let base = control_plane(&db).await;
    let org = organization(&base).await;
    // One call slot, and a status report only every minute: LiveKit still believes the
    // worker available when a Twilio call takes the slot, so it asks, and must hear "no".
    let w = worker(&base, &livekit, &livekit.url, 4, |c| {
        c.server.max_calls = 1;
        c.livekit.status_interval_ms = 60_000;
    });
    w.registered(1).await;
    let _twilio_call = w.worker.capacity.try_acquire().unwrap();
    let (call, metadata) = call(&db, &base, org).await;

    Dispatcher::new(&livekit)
        .dispatch("busy-room", &metadata)
        .await;
    eventually(WITHIN, "the offer is declined", || async {
        w.livekit.declined() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.livekit.live_jobs(), 0);
    assert!(events(&db, call).await.is_empty());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_draining_worker_finishes_its_live_job_and_the_next_dispatch_goes_elsewhere(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let base = control_plane(&db).await;
    let org = organization(&base).await;
    let draining = worker(&base, &livekit, &livekit.url, 4, |_| {});
    draining.registered(1).await;
    let lk = Dispatcher::new(&livekit);
    let (live, live_metadata) = call(&db, &base, org).await;
    lk.dispatch("live-room", &live_metadata).await;
    event(&db, live, "connected").await;

    // What SIGTERM does in the binary.
    draining.worker.start_draining();
    let other = worker(&base, &livekit, &livekit.url, 4, |_| {});
    other.registered(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (next, next_metadata) = call(&db, &base, org).await;
    lk.dispatch("next-room", &next_metadata).await;
    let connected = event(&db, next, "connected").await;
    assert_eq!(connected["workerId"], other.worker.worker_id);
    assert_eq!(draining.livekit.live_jobs(), 1, "the live job goes on");
    assert!(events(&db, live).await.iter().all(|e| e["type"] != "ended"));

    lk.delete_room("live-room").await;
    assert_eq!(event(&db, live, "ended").await["reason"], "room_finished");
    tokio::time::timeout(WITHIN, draining.livekit.stopped())
        .await
        .expect("the drained worker's LiveKit side stops");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_worker_reconnects_and_registers_again_after_its_connection_is_cut(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let base = control_plane(&db).await;
    let org = organization(&base).await;
    let proxy = Proxy::start(&livekit.url).await;
    let w = worker(&base, &livekit, &proxy.url, 4, |_| {});
    w.registered(1).await;
    let first_id = w.livekit.livekit_worker_id();

    proxy.cut();
    w.registered(2).await;
    assert_ne!(
        w.livekit.livekit_worker_id(),
        first_id,
        "a new registration"
    );

    let (call, metadata) = call(&db, &base, org).await;
    Dispatcher::new(&livekit)
        .dispatch("after-cut", &metadata)
        .await;
    event(&db, call, "connected").await;
}
