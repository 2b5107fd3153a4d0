//! The control plane killed with SIGKILL at random moments, over and over, while it runs a
//! campaign through the Twilio emulator: no contact is dialed more often than the policy
//! allows, every dial is on record, and no contact is left undialed.

use std::time::{Duration, Instant};

use outbound_tests::process::{control_plane_binary, test_database_url, ControlPlane};
use outbound_tests::rig::{free_port, Api, StandInWorker, WORKER_KEY};
use outbound_tests::twilio::{CalleeScript, Emulator, EmulatorConfig};
use rand::{Rng, SeedableRng};
use serde_json::json;
use sqlx::PgPool;

use crate::{contact, number};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_engine_killed_at_random_points_never_dials_a_contact_too_often(db: PgPool) {
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test seed {seed} (set CRASH_SEED to replay)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let twilio = Emulator::start(EmulatorConfig::unlimited()).await.unwrap();
    let port = free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let worker = StandInWorker::start(&base, WORKER_KEY, 1000, Duration::from_millis(100))
        .await
        .unwrap();
    let count = 60;
    for i in 0..count {
        let script = if i % 3 == 0 {
            CalleeScript::busy()
        } else {
            CalleeScript::answer().ring(rng.gen_range(0..400))
        };
        twilio.register_callee(&number(i), script);
    }
    let settings: Vec<(&str, String)> = vec![
        ("CP__SERVER__PUBLIC_URL", base.clone()),
        ("CP__TWILIO__BASE_URL", twilio.base_url().to_string()),
        ("CP__TWILIO__ACCOUNT_SID", twilio.account_sid().to_string()),
        ("CP__TWILIO__AUTH_TOKEN", twilio.auth_token().to_string()),
        ("CP__TWILIO__MEDIA_STREAM_URL", worker.media_url()),
        ("CP__TWILIO__REQUEST_TIMEOUT_SEC", "2".into()),
        ("CP__WORKERS__API_KEY", WORKER_KEY.into()),
        ("CP__ENGINE__TICK_MS", "50".into()),
        ("CP__ENGINE__LEASE_SEC", "2".into()),
        ("CP__ENGINE__RECONCILE_AFTER_SEC", "3".into()),
        ("CP__ENGINE__RING_TIMEOUT_SEC", "2".into()),
        ("CP__SERVER__SHUTDOWN_GRACE_SEC", "1".into()),
    ];
    let binary = control_plane_binary().unwrap();
    let url = test_database_url(&db).unwrap();
    let log = std::env::temp_dir().join(format!("crash-test-{port}.log"));
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
    let api = Api::register(&base, "crash@example.com").await.unwrap();
    let campaign = api
        .start_campaign(
            (0..count).map(contact).collect(),
            // Ten dials a second: dialing spans several kills.
            json!({"maxAttempts": 2, "retry": {"busy": 0}, "callsPerMinute": 600,
                   // On the wall clock: open at any hour the test happens to run.
                   "allowOutsideLegalHours": true, "schedule": {"startHour": 0, "endHour": 24}}),
        )
        .await
        .unwrap();
    cp.stop().await.unwrap();

    for round in 0..15 {
        let cp = start().await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(30..700))).await;
        cp.stop().await.unwrap();
        eprintln!("round {round}: {} dials so far", twilio.calls().len());
    }

    let cp = start().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while api.campaign_status(&campaign).await.unwrap() != "completed" {
        if Instant::now() > deadline {
            let states: Vec<(String, i64)> = sqlx::query_as(
                "select state, count(*) from campaign_attempts group by 1 order by 1",
            )
            .fetch_all(&db)
            .await
            .unwrap();
            panic!(
                "campaign not completed (seed {seed}); attempts {states:?}; log {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cp.stop().await.unwrap();

    let outcomes: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "select status, end_reason, count(*) from calls group by 1, 2 order by 1, 2",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    eprintln!("calls by status and end reason: {outcomes:?}");
    for i in 0..count {
        let phone = number(i);
        let dials = twilio.dial_count(&phone);
        assert!(dials >= 1, "{phone} was never dialed (seed {seed})");
        assert!(dials <= 2, "{phone} dialed {dials} times (seed {seed})");
        // Every dial Twilio saw is a call on record: none went out unaccounted for.
        let recorded: i64 = sqlx::query_scalar(
            "select count(*) from calls where to_phone = $1 and provider_call_id is not null",
        )
        .bind(&phone)
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(
            recorded,
            i64::from(dials),
            "{phone}: calls on record vs dials (seed {seed})"
        );
    }
}
