//! Engine dispatch benchmark: how many attempts per second one engine hands to the
//! Twilio dialer (emulator at unlimited CPS, every callee busy so no media is involved),
//! and what that costs the database.
//!
//! `./dev bench engine [DIALS]` (default 2000). Writes `target/bench/engine.md`.

use std::time::{Duration, Instant};

use anyhow::Context;
use control_plane::app::{Application, MIGRATOR};
use control_plane::config::Settings;
use control_plane::engine::SystemClock;
use outbound_tests::rig::{free_port, Api, StandInWorker, WORKER_KEY};
use outbound_tests::twilio::{CalleeScript, Emulator, EmulatorConfig};
use secrecy::SecretString;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// Contacts per campaign; each campaign has its own trunk at the 100 CPS maximum.
const PER_CAMPAIGN: usize = 200;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dials: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()
        .context("DIALS must be a number")?
        .unwrap_or(2000);
    let server = std::env::var("DATABASE_URL").context("DATABASE_URL must be set")?;
    let (db, url) = fresh_database(&server).await?;

    let twilio = Emulator::start(EmulatorConfig::unlimited()).await?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let worker =
        StandInWorker::start(&base, WORKER_KEY, 100_000, Duration::from_millis(10)).await?;
    let mut settings = Settings::defaults(&url)?;
    settings.server.port = port;
    settings.server.public_url = base.clone();
    settings.database.migrate = false;
    settings.database.max_connections = 30;
    settings.twilio.base_url = twilio.base_url().to_string();
    settings.twilio.account_sid = Some(twilio.account_sid().to_string());
    settings.twilio.auth_token = Some(SecretString::from(twilio.auth_token().to_string()));
    settings.twilio.media_stream_url = worker.media_url();
    settings.workers.api_key = SecretString::from(WORKER_KEY);
    settings.engine.enabled = false;
    settings.recordings.store_url = std::env::temp_dir()
        .join("outbound-bench-recordings")
        .display()
        .to_string();
    settings.engine.batch = 200;
    // The bench makes many requests fast from one address and organization.
    settings.limits.enabled = false;
    let app =
        Application::build_with(settings, db.clone(), std::sync::Arc::new(SystemClock)).await?;
    let engine = app.engine();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let api = Api::register(&base, "bench@example.com").await?;
    while api.get("/api/v1/workers").await?["data"]
        .as_array()
        .is_none_or(|w| w.is_empty())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let campaigns = dials.div_ceil(PER_CAMPAIGN);
    for c in 0..campaigns {
        let contacts: Vec<_> = (0..PER_CAMPAIGN)
            .map(|i| {
                let phone = format!("+1312{:03}{:04}", 200 + c, i);
                twilio.register_callee(&phone, CalleeScript::busy());
                json!({"phone": phone, "timezone": "America/Chicago"})
            })
            .collect();
        api.start_campaign(
            contacts,
            json!({"maxAttempts": 1, "maxConcurrentCalls": 1000, "allowOutsideLegalHours": true,
                   "schedule": {"startHour": 0, "endHour": 24}}),
        )
        .await?;
    }
    let total = campaigns * PER_CAMPAIGN;

    let before = db_stats(&db).await?;
    let cpu_before = process_cpu_seconds()?;
    let started = Instant::now();
    let mut ticks = 0;
    while twilio.calls().len() < total {
        engine.tick().await?;
        ticks += 1;
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "benchmark stalled"
        );
    }
    let elapsed = started.elapsed();
    let cpu = process_cpu_seconds()? - cpu_before;
    // PostgreSQL publishes other sessions' counters about once a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = db_stats(&db).await?;

    let per_sec = total as f64 / elapsed.as_secs_f64();
    let report = format!(
        "# Engine dispatch benchmark\n\n\
         command: `./dev bench engine {dials}`  \n\
         commit: `{commit}`  \n\
         machine: {cores} cores\n\n\
         | measure | value |\n|---|---|\n\
         | dials handed to the Twilio dialer | {total} ({campaigns} campaigns, one 100-CPS trunk each) |\n\
         | wall time | {secs:.2} s over {ticks} ticks |\n\
         | dispatch throughput | **{per_sec:.0} dials/s** |\n\
         | bench process CPU (engine + emulator + stand-in) | {cpu:.2} s ({cpu_per:.2} ms per dial) |\n\
         | PostgreSQL transactions per dial | {xact:.1} |\n\
         | rows written per dial (insert + update) | {rows:.1} |\n\
         | rows read per dial | {read:.1} |\n",
        commit = git_commit(),
        cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        secs = elapsed.as_secs_f64(),
        cpu_per = cpu * 1000.0 / total as f64,
        xact = (after.0 - before.0) as f64 / total as f64,
        rows = (after.1 - before.1) as f64 / total as f64,
        read = (after.2 - before.2) as f64 / total as f64,
    );
    println!("{report}");
    std::fs::create_dir_all("target/bench")?;
    std::fs::write("target/bench/engine.md", &report)?;
    drop(db);
    drop_database(&server, &url).await?;
    Ok(())
}

/// A new, migrated database next to `server`'s.
async fn fresh_database(server: &str) -> anyhow::Result<(PgPool, String)> {
    let (prefix, _) = server
        .rsplit_once('/')
        .context("DATABASE_URL has no database")?;
    let name = format!("engine_bench_{}", std::process::id());
    let mut admin = PgConnection::connect(server).await?;
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await?;
    let url = format!("{prefix}/{name}");
    let db = PgPoolOptions::new()
        .max_connections(40)
        .connect(&url)
        .await?;
    MIGRATOR.run(&db).await?;
    Ok((db, url))
}

async fn drop_database(server: &str, url: &str) -> anyhow::Result<()> {
    let name = url.rsplit_once('/').map(|(_, n)| n).unwrap_or_default();
    let mut admin = PgConnection::connect(server).await?;
    sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(&mut admin)
        .await?;
    Ok(())
}

/// (transactions committed, rows inserted + updated, rows fetched) of this database.
async fn db_stats(db: &PgPool) -> anyhow::Result<(i64, i64, i64)> {
    sqlx::query_as::<_, (i64, i64, i64)>(
        "select xact_commit, tup_inserted + tup_updated, tup_fetched
         from pg_stat_database where datname = current_database()",
    )
    .fetch_one(db)
    .await
    .map_err(Into::into)
}

/// User + system CPU seconds of this process so far.
fn process_cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("odd /proc/self/stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}
