//! Engine dispatch benchmark: how many attempts per second one engine hands to the
//! Twilio dialer (emulator at unlimited CPS, every callee busy so no media is involved),
//! and what that costs the database: transactions and statements per dial, counted from
//! `pg_stat_database` and, when the cluster preloads it, `pg_stat_statements`.
//!
//! `./dev bench engine [DIALS] [CAMPAIGNS]` (default 10000 dials over 50 campaigns, each on
//! its own 100-CPS trunk). Writes `target/bench/engine.{md,json}`.
//!
//! CPU is counted for the bench process (engine, webhook handlers, Twilio emulator,
//! stand-in worker) and for PostgreSQL (every process of the cluster, when it runs on this
//! machine). After the dispatch run, the end-of-call reporter reports every ended call
//! (it is held off during the run): its calls per second and transactions per report.

use std::time::{Duration, Instant};

use anyhow::Context;
use control_plane::app::{Application, MIGRATOR};
use control_plane::config::Settings;
use control_plane::engine::SystemClock;
use control_plane::integrations::analysis::Analyst;
use control_plane::integrations::report::Reporter;
use outbound_tests::process::cpu_seconds_of;
use outbound_tests::rig::{free_port, Api, StandInWorker, WORKER_KEY};
use outbound_tests::twilio::{CalleeScript, Emulator, EmulatorConfig};
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// The goal (issue 17, item 3).
const GOAL_DIALS_PER_SEC: f64 = 1000.0;
const GOAL_XACTS_PER_DIAL: f64 = 3.0;
const GOAL_CAMPAIGNS: usize = 50;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut number = |name: &str, default: usize| -> anyhow::Result<usize> {
        args.next()
            .map(|n| n.parse())
            .transpose()
            .with_context(|| format!("{name} must be a number"))
            .map(|n| n.unwrap_or(default))
    };
    let dials = number("DIALS", 10_000)?;
    let campaigns = number("CAMPAIGNS", GOAL_CAMPAIGNS)?.max(1);
    let per_campaign = dials.div_ceil(campaigns);
    anyhow::ensure!(per_campaign <= 10_000, "at most 10,000 dials per campaign");
    let server = std::env::var("DATABASE_URL").context("DATABASE_URL must be set")?;
    let (db, url, statements) = fresh_database(&server).await?;

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
    // The end-of-call reporter and webhook sender poll on this interval: held off for the
    // run, so the transactions counted are the engine's (dispatch and status callbacks).
    // The report's own cost per call is in the README, from the statement profile.
    settings.webhooks.poll_ms = 3_600_000;
    let reporter = Reporter::new(
        db.clone(),
        std::sync::Arc::new(SystemClock),
        settings.webhooks.clone(),
        Analyst::new(db.clone(), settings.analysis.clone())?,
        base.clone(),
    );
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

    for c in 0..campaigns {
        let contacts: Vec<_> = (0..per_campaign)
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
    let total = campaigns * per_campaign;

    let events_before = event_rows(&db).await?;
    if statements {
        sqlx::query("select pg_stat_statements_reset()")
            .execute(&db)
            .await?;
    }
    let postmaster = postmaster_pid(&db).await.ok();
    let pg_cpu_before = postmaster.map(cluster_cpu_seconds).transpose()?;
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
    let pg_cpu_dispatch = match (postmaster, pg_cpu_before) {
        (Some(pid), Some(before)) => Some(cluster_cpu_seconds(pid)? - before),
        _ => None,
    };
    // Every dial's callbacks are part of its cost: wait until each attempt is settled.
    let settled = Instant::now();
    while unsettled(&db).await? > 0 && settled.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // PostgreSQL publishes other sessions' counters about once a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = db_stats(&db).await?;
    let events_after = event_rows(&db).await?;
    // CPU until every attempt is settled: the callbacks that came after the last dial too.
    let cpu_settled = process_cpu_seconds()? - cpu_before;
    let pg_cpu_settled = match (postmaster, pg_cpu_before) {
        (Some(pid), Some(before)) => Some(cluster_cpu_seconds(pid)? - before),
        _ => None,
    };
    let profile = if statements {
        statement_profile(&db, total).await?
    } else {
        Vec::new()
    };
    let reports = report_everything(&db, &reporter).await?;

    let per_sec = total as f64 / elapsed.as_secs_f64();
    let xacts = (after.0 - before.0) as f64 / total as f64;
    let rows = (after.1 - before.1) as f64 / total as f64;
    let read = (after.2 - before.2) as f64 / total as f64;
    let live_events = (events_after.0 - events_before.0) as f64 / total as f64;
    let org_events = (events_after.1 - events_before.1) as f64 / total as f64;
    let commit = git_commit();
    let command = format!("./dev bench engine {dials} {campaigns}");
    let met = per_sec >= GOAL_DIALS_PER_SEC
        && xacts <= GOAL_XACTS_PER_DIAL
        && campaigns >= GOAL_CAMPAIGNS;
    let mut report = format!(
        "# Engine dispatch benchmark\n\n\
         command: `{command}`  \n\
         commit: `{commit}`  \n\
         machine: {cores} cores\n\n\
         | measure | value |\n|---|---|\n\
         | dials handed to the Twilio dialer | {total} ({campaigns} campaigns, one 100-CPS trunk each) |\n\
         | wall time | {secs:.2} s over {ticks} ticks |\n\
         | dispatch throughput | **{per_sec:.0} dials/s** |\n\
         | bench process CPU (engine, webhooks, emulator, stand-in) during dispatch | {cpu:.2} s ({cpu_per:.2} ms per dial) |\n\
         | PostgreSQL CPU (all its processes) during dispatch | {pg_dispatch} |\n\
         | CPU per dial until every attempt settled: bench process / PostgreSQL | {cpu_settled_per:.2} ms / {pg_settled} |\n\
         | PostgreSQL transactions per dial (dispatch and callbacks) | **{xacts:.2}** |\n\
         | rows written per dial (insert + update) | {rows:.1} |\n\
         | of which trigger rows: live_events / org_events per dial | {live_events:.1} / {org_events:.1} |\n\
         | rows read per dial | {read:.1} |\n\
         | end-of-call reports after the run (reporter held off until then) | {reported} in {report_secs:.2} s: **{report_rate:.0} calls/s**, {report_xacts:.2} transactions per report |\n\n\
         Goal: >= {GOAL_DIALS_PER_SEC:.0} dials/s over >= {GOAL_CAMPAIGNS} campaigns with <= {GOAL_XACTS_PER_DIAL:.0} transactions per dial: **{verdict}**.\n",
        cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        secs = elapsed.as_secs_f64(),
        cpu_per = cpu * 1000.0 / total as f64,
        pg_dispatch = per_dial_ms(pg_cpu_dispatch, total),
        cpu_settled_per = cpu_settled * 1000.0 / total as f64,
        pg_settled = per_dial_ms(pg_cpu_settled, total),
        reported = reports.calls,
        report_secs = reports.seconds,
        report_rate = reports.calls as f64 / reports.seconds.max(1e-9),
        report_xacts = reports.transactions as f64 / reports.calls.max(1) as f64,
        verdict = if met { "met" } else { "not met" },
    );
    if profile.is_empty() {
        report.push_str(
            "\nNo statement profile: start PostgreSQL with \
             `shared_preload_libraries=pg_stat_statements` to get one.\n",
        );
    } else {
        report.push_str(
            "\n## Statements per dial (pg_stat_statements, nested trigger statements included)\n\n\
             | per dial | ms per call | statement |\n|---:|---:|---|\n",
        );
        for s in &profile {
            report.push_str(&format!(
                "| {:.3} | {:.3} | `{}` |\n",
                s.per_dial, s.mean_ms, s.query
            ));
        }
    }
    println!("{report}");
    let summary = json!({
        "summary": {
            "benchmark": "engine",
            "command": command,
            "commit": commit,
            "goal": format!(">= {GOAL_DIALS_PER_SEC:.0} dials/s on this 2-core machine (PostgreSQL on the same cores) over >= {GOAL_CAMPAIGNS} campaigns and trunks, with <= {GOAL_XACTS_PER_DIAL:.0} PostgreSQL transactions per dial"),
            "result": format!("{per_sec:.0} dials/s over {campaigns} campaigns, {xacts:.2} transactions per dial"),
            "met": met,
        },
        "dials": total,
        "campaigns": campaigns,
        "wallSeconds": elapsed.as_secs_f64(),
        "ticks": ticks,
        "dialsPerSecond": per_sec,
        "benchCpuMsPerDial": cpu * 1000.0 / total as f64,
        "postgresCpuMsPerDial": pg_cpu_dispatch.map(|s| s * 1000.0 / total as f64),
        "benchCpuMsPerSettledDial": cpu_settled * 1000.0 / total as f64,
        "postgresCpuMsPerSettledDial": pg_cpu_settled.map(|s| s * 1000.0 / total as f64),
        "reportsPerSecond": reports.calls as f64 / reports.seconds.max(1e-9),
        "transactionsPerReport": reports.transactions as f64 / reports.calls.max(1) as f64,
        "transactionsPerDial": xacts,
        "rowsWrittenPerDial": rows,
        "rowsReadPerDial": read,
        "liveEventsPerDial": live_events,
        "orgEventsPerDial": org_events,
        "statements": profile.iter().map(|s| json!({
            "query": s.query, "perDial": s.per_dial, "meanMs": s.mean_ms,
        })).collect::<Vec<Value>>(),
    });
    std::fs::create_dir_all("target/bench")?;
    std::fs::write("target/bench/engine.md", &report)?;
    std::fs::write(
        "target/bench/engine.json",
        serde_json::to_string_pretty(&summary)?,
    )?;
    drop(db);
    drop_database(&server, &url).await?;
    Ok(())
}

/// What the end-of-call reporter did after the run.
struct Reports {
    calls: usize,
    seconds: f64,
    transactions: i64,
}

/// Runs the reporter's passes until nothing is due; counts the calls reported, the time
/// it took and the transactions committed meanwhile.
async fn report_everything(db: &PgPool, reporter: &Reporter) -> anyhow::Result<Reports> {
    let before = db_stats(db).await?.0;
    let started = Instant::now();
    let mut calls = 0;
    loop {
        let n = reporter.pass().await?;
        if n == 0 {
            break;
        }
        calls += n;
    }
    let seconds = started.elapsed().as_secs_f64();
    // PostgreSQL publishes other sessions' counters about once a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = db_stats(db).await?.0;
    // Every pass's lease statement counts (the final, empty one too); the first counter
    // read is no report.
    Ok(Reports {
        calls,
        seconds,
        transactions: after - before - 1,
    })
}

/// `x.xx ms per dial`, or why there is no figure.
fn per_dial_ms(seconds: Option<f64>, dials: usize) -> String {
    seconds.map_or_else(
        || "not measured (PostgreSQL is not on this machine)".to_string(),
        |s| format!("{s:.2} s ({:.2} ms per dial)", s * 1000.0 / dials as f64),
    )
}

/// The postmaster: the parent of this session's backend, if it runs on this machine.
async fn postmaster_pid(db: &PgPool) -> anyhow::Result<u32> {
    let backend: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(db)
        .await?;
    parent_pid(backend as u32)
}

fn parent_pid(pid: u32) -> anyhow::Result<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is not on this machine"))?;
    let rest = stat.rsplit_once(") ").context("odd /proc stat")?.1;
    Ok(rest
        .split_whitespace()
        .nth(1)
        .context("short /proc stat")?
        .parse()?)
}

/// CPU seconds of the whole cluster: the postmaster, its living children (backends, WAL
/// writer, ...) and the children that exited (their times are added to the postmaster's
/// `cutime`/`cstime` when reaped).
fn cluster_cpu_seconds(postmaster: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{postmaster}/stat"))?;
    let rest = stat.rsplit_once(") ").context("odd /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 (1-based), 13 and 14 after the name.
    let reaped: f64 = fields[13].parse::<f64>()? + fields[14].parse::<f64>()?;
    let mut total = reaped / 100.0 + cpu_seconds_of(postmaster)?;
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if parent_pid(pid).ok() == Some(postmaster) {
            total += cpu_seconds_of(pid).unwrap_or(0.0);
        }
    }
    Ok(total)
}

/// One line of the statement profile.
struct Statement {
    query: String,
    per_dial: f64,
    mean_ms: f64,
}

/// This database's statements by calls per dial (the 25 most frequent).
async fn statement_profile(db: &PgPool, dials: usize) -> anyhow::Result<Vec<Statement>> {
    let rows = sqlx::query_as::<_, (String, i64, f64)>(
        "select regexp_replace(query, '\\s+', ' ', 'g'), calls, mean_exec_time
         from pg_stat_statements
         where dbid = (select oid from pg_database where datname = current_database())
           and query not like '%pg_stat%'
         order by calls desc limit 25",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(query, calls, mean_ms)| Statement {
            query: query
                .chars()
                .take(140)
                .collect::<String>()
                .replace('|', "\\|"),
            per_dial: calls as f64 / dials as f64,
            mean_ms,
        })
        .collect())
}

/// Attempts not settled yet (leased, dialing or in a call).
async fn unsettled(db: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar::<_, i64>(
        "select count(*) from campaign_attempts where state in ('leased', 'dialing', 'in_call')",
    )
    .fetch_one(db)
    .await?)
}

/// Rows the status triggers wrote so far: (live_events, org_events).
async fn event_rows(db: &PgPool) -> anyhow::Result<(i64, i64)> {
    Ok(sqlx::query_as::<_, (i64, i64)>(
        "select (select count(*) from live_events), (select count(*) from org_events)",
    )
    .fetch_one(db)
    .await?)
}

/// A new, migrated database next to `server`'s.
/// Also says whether `pg_stat_statements` can profile it (the cluster must preload it);
/// nested statements (the status triggers' inserts) are tracked too, when allowed.
async fn fresh_database(server: &str) -> anyhow::Result<(PgPool, String, bool)> {
    let (prefix, _) = server
        .rsplit_once('/')
        .context("DATABASE_URL has no database")?;
    let name = format!("engine_bench_{}", std::process::id());
    let mut admin = PgConnection::connect(server).await?;
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await?;
    // Before any session connects, so every session of the run has it.
    let nested = sqlx::query(&format!(
        "alter database {name} set pg_stat_statements.track = 'all'"
    ))
    .execute(&mut admin)
    .await
    .is_ok();
    let url = format!("{prefix}/{name}");
    let db = PgPoolOptions::new()
        .max_connections(40)
        .connect(&url)
        .await?;
    MIGRATOR.run(&db).await?;
    let statements = nested
        && sqlx::query("create extension if not exists pg_stat_statements")
            .execute(&db)
            .await
            .is_ok()
        && sqlx::query("select 1 from pg_stat_statements limit 1")
            .execute(&db)
            .await
            .is_ok();
    Ok((db, url, statements))
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
