//! The control-plane client against the real control plane: the app on a local port with
//! a fresh database per test (`#[sqlx::test]`, `DATABASE_URL` must point at PostgreSQL).

use std::time::Duration;

use agent_worker::control::heartbeat::{self, HeartbeatConfig};
use agent_worker::control::{Capacity, ControlError, ControlPlane, EventReporter, ReporterConfig};
use control_plane::app::Application;
use control_plane::config::Settings;
use secrecy::SecretString;
use serde_json::{json, Value};
use shared::events::{EventKind, Speaker};
use shared::job::CallMode;
use shared::token::CallTokens;
use shared::CallOutcome;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WORKER_KEY: &str = "test-worker-key";
const TOKEN_SECRET: &[u8] = b"test-worker-token-secret";

/// The control plane's settings for a test on `port`, engine off.
fn settings(port: u16) -> Settings {
    let mut s = Settings::defaults("postgres://unused: the test hands in its pool").unwrap();
    s.server.port = port;
    s.server.public_url = format!("http://127.0.0.1:{port}");
    s.server.shutdown_grace_sec = 1;
    s.database.max_connections = 5;
    s.database.migrate = false;
    s.engine.enabled = false;
    s.workers.api_key = SecretString::from(WORKER_KEY);
    s.workers.token_secret = SecretString::from("test-worker-token-secret");
    // Nothing here records; keep the default folder out of the working directory.
    s.recordings.store_url = std::env::temp_dir()
        .join("agent-worker-control-test")
        .display()
        .to_string();
    s
}

/// Starts the control plane on `port` (0 for any); returns its base URL.
async fn start_control_plane(db: &PgPool, port: u16) -> String {
    let app = Application::build_with_pool(settings(port), db.clone())
        .await
        .unwrap();
    let base = format!("http://{}", app.address());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    base
}

/// A port nothing listens on yet.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn token_for(call: Uuid, org: Uuid) -> SecretString {
    let expires = chrono::Utc::now().timestamp() + 3600;
    SecretString::from(CallTokens::new(TOKEN_SECRET).mint(call, org, expires))
}

/// An organization and a call of it, straight in the database; returns (org, call).
async fn insert_call(db: &PgPool) -> (Uuid, Uuid) {
    let (org, call) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query("insert into organizations (id, name) values ($1, 'Acme')")
        .bind(org)
        .execute(db)
        .await
        .unwrap();
    sqlx::query(
        "insert into calls (id, org_id, mode, to_phone) values ($1, $2, 'twilio_stream', '+12125550142')",
    )
    .bind(call)
    .bind(org)
    .execute(db)
    .await
    .unwrap();
    (org, call)
}

/// The call's stored events as (seq, payload), in order.
async fn stored_events(db: &PgPool, call: Uuid) -> Vec<(i64, Value)> {
    sqlx::query_as("select seq, payload from call_events where call_id = $1 order by seq")
        .bind(call)
        .fetch_all(db)
        .await
        .unwrap()
}

fn line(n: usize) -> EventKind {
    EventKind::Transcript {
        speaker: Speaker::Callee,
        text: format!("line {n}"),
        start_ms: n as i64 * 1000,
        end_ms: n as i64 * 1000 + 500,
        confidence: None,
    }
}

fn fast() -> ReporterConfig {
    ReporterConfig {
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(100),
        ..ReporterConfig::default()
    }
}

/// Registers through the API and returns (session token, org id).
async fn register(base: &str) -> (String, Uuid) {
    let body: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/register"))
        .json(
            &json!({"email": "owner@acme.example.com", "password": "s3cret-password",
                      "organizationName": "Acme"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org = body["organization"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    (body["token"].as_str().unwrap().to_string(), org)
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_job_is_fetched_with_its_own_token_and_refused_otherwise(db: PgPool) {
    let base = start_control_plane(&db, 0).await;
    let (session, org) = register(&base).await;
    let assistant: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/assistants"))
        .bearer_auth(&session)
        .json(
            &json!({"name": "Sales", "systemPrompt": "You call {{name}}.",
                      "firstMessage": "Hi {{name}}, this is Sam, an AI assistant."}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let call = Uuid::now_v7();
    sqlx::query(
        "insert into calls (id, org_id, assistant_id, assistant_version, mode, to_phone, variables)
         values ($1, $2, $3, 1, 'twilio_stream', '+12125550142', '{\"name\": \"Ada\"}')",
    )
    .bind(call)
    .bind(org)
    .bind(assistant["id"].as_str().unwrap().parse::<Uuid>().unwrap())
    .execute(&db)
    .await
    .unwrap();
    let control = ControlPlane::new(&base, reqwest::Client::new());

    let job = control
        .fetch_job(call, &token_for(call, org))
        .await
        .unwrap();
    assert_eq!(job.call_id, call);
    assert_eq!(job.system_prompt, "You call Ada.");
    assert_eq!(
        job.first_message.as_deref(),
        Some("Hi Ada, this is Sam, an AI assistant.")
    );
    // The public URL is configured, not the port the test happened to get.
    assert!(job
        .events_url
        .ends_with(&format!("/internal/v1/calls/{call}/events")));

    let garbage = SecretString::from("garbage");
    assert!(matches!(
        control.fetch_job(call, &garbage).await,
        Err(ControlError::Unauthorized)
    ));
    let other = Uuid::now_v7();
    assert!(matches!(
        control.fetch_job(call, &token_for(other, org)).await,
        Err(ControlError::Forbidden)
    ));
    assert!(matches!(
        control.fetch_job(other, &token_for(other, org)).await,
        Err(ControlError::NotFound)
    ));
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn events_arrive_in_order_and_once_when_the_control_plane_starts_late(db: PgPool) {
    let (org, call) = insert_call(&db).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let control = ControlPlane::new(&base, reqwest::Client::new());
    let url = format!("{base}/internal/v1/calls/{call}/events");
    let reporter = EventReporter::start(control, url, token_for(call, org), fast());
    reporter
        .report(EventKind::Connected {
            worker_id: "w1".into(),
        })
        .await
        .unwrap();
    for n in 0..5 {
        reporter.report(line(n)).await.unwrap();
    }
    // Nothing listens yet: the reporter retries meanwhile and keeps taking events.
    tokio::time::sleep(Duration::from_millis(300)).await;
    reporter
        .report(EventKind::Ended {
            reason: "completed".into(),
        })
        .await
        .unwrap();
    assert_eq!(reporter.stats().delivered, 0);
    start_control_plane(&db, port).await;

    let stats_handle = reporter.clone();
    assert!(reporter.finish(Duration::from_secs(15)).await);
    let stats = stats_handle.stats();
    assert_eq!((stats.reported, stats.delivered, stats.dropped), (7, 7, 0));
    let events = stored_events(&db, call).await;
    let seqs: Vec<i64> = events.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
    assert_eq!(events[0].1["type"], "connected");
    for n in 0..5 {
        assert_eq!(events[n + 1].1["text"], format!("line {n}"));
    }
    assert_eq!(events[6].1["type"], "ended");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn after_a_409_the_reporter_continues_from_what_the_control_plane_has(db: PgPool) {
    let (org, call) = insert_call(&db).await;
    let base = start_control_plane(&db, 0).await;
    let control = ControlPlane::new(&base, reqwest::Client::new());
    let url = format!("{base}/internal/v1/calls/{call}/events");
    let reporter = EventReporter::start(control, url, token_for(call, org), fast());
    for n in 1..=3 {
        reporter.report(line(n)).await.unwrap();
    }
    while reporter.stats().delivered < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The control plane loses its last two events (say, restored from a backup): the
    // reporter's next number is now a gap, which it learns from a 409.
    sqlx::query("delete from call_events where call_id = $1 and seq > 1")
        .bind(call)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("update calls set events_seq = 1 where id = $1")
        .bind(call)
        .execute(&db)
        .await
        .unwrap();
    reporter.report(line(4)).await.unwrap();
    reporter.report(line(5)).await.unwrap();
    assert!(reporter.finish(Duration::from_secs(10)).await);
    let texts: Vec<(i64, Value)> = stored_events(&db, call)
        .await
        .into_iter()
        .map(|(seq, payload)| (seq, payload["text"].clone()))
        .collect();
    assert_eq!(
        texts,
        vec![
            (1, json!("line 1")),
            (2, json!("line 4")),
            (3, json!("line 5"))
        ]
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_full_backlog_drops_only_old_transcripts_and_tool_calls(db: PgPool) {
    let (org, call) = insert_call(&db).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let control = ControlPlane::new(&base, reqwest::Client::new());
    let url = format!("{base}/internal/v1/calls/{call}/events");
    let config = ReporterConfig {
        max_backlog: 10,
        max_batch: 5,
        ..fast()
    };
    let reporter = EventReporter::start(control, url, token_for(call, org), config);
    let stats = reporter.clone();
    reporter
        .report(EventKind::Connected {
            worker_id: "w1".into(),
        })
        .await
        .unwrap();
    for n in 0..30 {
        reporter.report(line(n)).await.unwrap();
    }
    reporter
        .report(EventKind::ToolCall {
            name: "lookup".into(),
            arguments: json!({}),
        })
        .await
        .unwrap();
    reporter
        .report(EventKind::Outcome {
            outcome: CallOutcome::Interested,
            notes: None,
        })
        .await
        .unwrap();
    for n in 30..40 {
        reporter.report(line(n)).await.unwrap();
    }
    reporter
        .report(EventKind::Ended {
            reason: "completed".into(),
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    start_control_plane(&db, port).await;
    assert!(reporter.finish(Duration::from_secs(15)).await);

    let stats = stats.stats();
    let events = stored_events(&db, call).await;
    assert_eq!(stats.reported, 44);
    assert_eq!(stats.delivered as usize, events.len());
    assert_eq!(stats.dropped + stats.delivered, stats.reported);
    assert!(stats.dropped >= 25, "dropped {}", stats.dropped);
    // Numbers have no gaps, whatever was dropped.
    let seqs: Vec<i64> = events.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>());
    let kinds: Vec<&str> = events
        .iter()
        .map(|(_, p)| p["type"].as_str().unwrap())
        .filter(|kind| *kind != "transcript")
        .collect();
    assert_eq!(
        kinds,
        vec!["connected", "outcome", "ended"],
        "the tool call is old"
    );
    // What survives of the transcript: in order, and the newest lines all there.
    let lines: Vec<usize> = events
        .iter()
        .filter_map(|(_, p)| p["text"].as_str())
        .map(|text| text.trim_start_matches("line ").parse().unwrap())
        .collect();
    assert!(lines.windows(2).all(|pair| pair[0] < pair[1]), "{lines:?}");
    assert!(lines.ends_with(&(32..40).collect::<Vec<_>>()), "{lines:?}");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn heartbeats_show_the_worker_and_the_last_one_drains_it(db: PgPool) {
    let base = start_control_plane(&db, 0).await;
    let (session, _) = register(&base).await;
    let control = ControlPlane::new(&base, reqwest::Client::new());
    let capacity = Capacity::new(8);
    let _calls: Vec<_> = (0..3).map(|_| capacity.try_acquire().unwrap()).collect();
    let config = HeartbeatConfig {
        interval: Duration::from_millis(50),
        ..HeartbeatConfig::new("worker-1", CallMode::TwilioStream)
    };
    let shutdown = CancellationToken::new();
    let task = heartbeat::spawn(
        control,
        SecretString::from(WORKER_KEY),
        config,
        capacity.clone(),
        shutdown.clone(),
    );
    let workers = || async {
        let list: Value = reqwest::Client::new()
            .get(format!("{base}/api/v1/workers"))
            .bearer_auth(&session)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["data"][0].clone()
    };
    let mut worker = Value::Null;
    for _ in 0..100 {
        worker = workers().await;
        if worker["id"] == "worker-1" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(worker["capacity"], 8);
    assert_eq!(worker["activeCalls"], 3);
    assert_eq!(worker["draining"], false);
    assert_eq!(worker["alive"], true);

    shutdown.cancel();
    task.await.unwrap();
    let worker = workers().await;
    assert_eq!(worker["capacity"], 0);
    assert_eq!(worker["activeCalls"], 3);
    assert_eq!(worker["draining"], true);
}
