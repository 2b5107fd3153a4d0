//! Deliveries survive a control-plane process killed (SIGKILL) while they are being
//! retried: after the restart every event is taken once by id, in order per call.

use std::time::{Duration, Instant};

use outbound_tests::process::{control_plane_binary, test_database_url, ControlPlane};
use outbound_tests::rig::{free_port, Api, StandInWorker, WORKER_KEY};
use outbound_tests::twilio::{CalleeScript, Emulator, EmulatorConfig};
use serde_json::json;
use sqlx::PgPool;

use crate::receiver::Receiver;
use crate::{assert_all_once_in_order, contact, endpoint, logged_events, number, ALL_EVENTS};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn deliveries_survive_a_control_plane_killed_mid_retry(db: PgPool) {
    let twilio = Emulator::start(EmulatorConfig::unlimited()).await.unwrap();
    let port = free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let worker = StandInWorker::start(&base, WORKER_KEY, 100, Duration::from_millis(100))
        .await
        .unwrap();
    for i in 0..2 {
        twilio.register_callee(&number(i), CalleeScript::answer());
    }
    let settings: Vec<(&str, String)> = vec![
        ("CP__SERVER__PUBLIC_URL", base.clone()),
        ("CP__TWILIO__BASE_URL", twilio.base_url().to_string()),
        ("CP__TWILIO__ACCOUNT_SID", twilio.account_sid().to_string()),
        ("CP__TWILIO__AUTH_TOKEN", twilio.auth_token().to_string()),
        ("CP__TWILIO__MEDIA_STREAM_URL", worker.media_url()),
        ("CP__WORKERS__API_KEY", WORKER_KEY.into()),
        ("CP__ENGINE__TICK_MS", "50".into()),
        ("CP__ENGINE__RING_TIMEOUT_SEC", "2".into()),
        ("CP__SERVER__SHUTDOWN_GRACE_SEC", "1".into()),
        ("CP__WEBHOOKS__POLL_MS", "20".into()),
        ("CP__WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true".into()),
        // Retries a second apart: the kill lands while every event still waits for one.
        ("CP__WEBHOOKS__FIRST_RETRY_SEC", "1".into()),
        ("CP__WEBHOOKS__MAX_RETRY_SEC", "1".into()),
        // A call live at the kill loses the stand-in's last events (a real worker would
        // resend them): its end and report then come after these short graces.
        ("CP__ENGINE__WORKER_GRACE_SEC", "2".into()),
        ("CP__WEBHOOKS__REPORT_GRACE_SEC", "2".into()),
        // What the killed process had leased (a delivery mid-request, a report being
        // written) is taken again after these, not the minutes a production lease holds.
        ("CP__WEBHOOKS__LEASE_SEC", "3".into()),
        ("CP__WEBHOOKS__REPORT_LEASE_SEC", "3".into()),
    ];
    let binary = control_plane_binary().unwrap();
    let url = test_database_url(&db).unwrap();
    let log = std::env::temp_dir().join(format!("webhooks-restart-{port}.log"));
    let client = reqwest::Client::new();
    let start = || async {
        let mut cp = ControlPlane::start_on(&binary, &url, &log, port, &settings)
            .await
            .unwrap();
        cp.wait_healthy(&client, Duration::from_secs(30))
            .await
            .unwrap();
        cp
    };

    let cp = start().await;
    let api = Api::register(&base, "restart@example.com").await.unwrap();
    // Each event's first three attempts fail.
    let receiver = Receiver::start(3).await;
    let (endpoint_id, secret) = endpoint(&api, &receiver.url(), ALL_EVENTS).await;
    receiver.set_secret(&secret);
    let campaign = api
        .start_campaign(
            (0..2).map(contact).collect(), // On the wall clock: open at any hour the test happens to run.
            json!({"maxAttempts": 1, "allowOutsideLegalHours": true,
                   "schedule": {"startHour": 0, "endHour": 24}}),
        )
        .await
        .unwrap();
    // Kill it once deliveries are failing and being retried, none taken yet.
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.total_attempts() < 3 {
        assert!(Instant::now() < deadline, "no delivery attempted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cp.stop().await.unwrap();
    let before_restart = receiver.accepted().len();

    let cp = start().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logged = logged_events(&db, &endpoint_id).await;
        let done = api.campaign_status(&campaign).await.unwrap() == "completed"
            && logged
                .iter()
                .filter(|(_, kind, _)| kind == "call.report")
                .count()
                == 2
            && receiver.accepted().len() == logged.len();
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} events taken; log {}",
            receiver.accepted().len(),
            logged.len(),
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cp.stop().await.unwrap();

    let logged = logged_events(&db, &endpoint_id).await;
    let accepted = receiver.accepted();
    assert!(
        before_restart < accepted.len(),
        "events were left for after the restart"
    );
    assert_all_once_in_order(&logged, &accepted);
    assert!(accepted.iter().any(|e| e["type"] == "campaign.completed"));
    for event in &accepted {
        assert!(receiver.attempts(event["id"].as_str().unwrap()) >= 4);
    }
    assert_eq!(receiver.rejected(), 0);
}
