//! `./dev bench import [ROWS...]`: how fast the control plane imports a streamed contact
//! CSV and how much memory that takes. Each size (default 100,000 and 1,000,000 rows) gets
//! a fresh control-plane process, so its peak RSS belongs to that upload alone. Prints a
//! markdown table and writes it to `import.md` and `import.json` (with the `summary` that
//! `./dev bench all` reads) in `BENCH_OUT_DIR` (default `<target dir>/bench`).
//!
//! The control plane is `CONTROL_PLANE_BIN` when set, else the `control-plane` next to
//! this binary. CPU time is measured for the three parties sharing the cores: the control
//! plane, PostgreSQL (the postmaster's children: backends and background workers) and
//! this process (generating and sending the CSV).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use futures::StreamExt;
use outbound_tests::contacts_csv::ContactsCsv;
use outbound_tests::process::{control_plane_binary, cpu_seconds_of, ControlPlane};
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

const DEFAULT_SIZES: [u64; 2] = [100_000, 1_000_000];

/// The goal: a million rows in ten seconds.
const GOAL_ROWS_PER_SECOND: f64 = 100_000.0;

/// One size's measurements.
struct Outcome {
    rows: u64,
    bytes: u64,
    elapsed: Duration,
    accepted: u64,
    rejected: u64,
    expected: (u64, u64),
    /// Peak RSS from start-up to the upload (registration included).
    setup_peak_kib: u64,
    rss_before_kib: u64,
    /// Peak RSS during the upload alone.
    peak_kib: u64,
    /// CPU seconds spent during the upload.
    cpu: Cpu,
}

/// CPU seconds (user + system) of each party during one upload.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    control_plane: f64,
    postgres: Option<f64>,
    bench: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes = if args.is_empty() {
        DEFAULT_SIZES.to_vec()
    } else {
        args.iter()
            .map(|a| a.replace('_', "").parse::<u64>())
            .collect::<Result<Vec<_>, _>>()
            .context("usage: import-bench [ROWS...]")?
    };
    let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL must be set")?;
    let binary = control_plane_binary()?;
    ensure!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release -p control-plane`",
        binary.display()
    );
    let out_dir = match std::env::var_os("BENCH_OUT_DIR") {
        Some(dir) => dir.into(),
        None => {
            let exe = std::env::current_exe()?;
            exe.parent()
                .and_then(Path::parent)
                .map(|target| target.join("bench"))
                .context("no target directory above the bench")?
        }
    };
    std::fs::create_dir_all(&out_dir)?;
    let postmaster = postmaster_pid(&database_url).await;
    if let Err(err) = &postmaster {
        eprintln!("PostgreSQL's CPU time will not be measured: {err:#}");
    }

    let client = reqwest::Client::new();
    let mut outcomes = Vec::new();
    for rows in sizes {
        eprintln!("importing {rows} rows…");
        let postmaster = postmaster.as_ref().ok().copied();
        let outcome = run(rows, &binary, &database_url, &out_dir, &client, postmaster).await?;
        eprintln!(
            "  {:.1} s, peak RSS {}, CPU s: control plane {:.1}, PostgreSQL {}, bench {:.1}",
            outcome.elapsed.as_secs_f64(),
            mib(outcome.peak_kib),
            outcome.cpu.control_plane,
            outcome
                .cpu
                .postgres
                .map_or("n/a".to_string(), |s| format!("{s:.1}")),
            outcome.cpu.bench,
        );
        outcomes.push(outcome);
    }

    let table = table(&outcomes);
    println!("{table}");
    let command = format!("./dev bench import {}", args.join(" "));
    let commit = git_commit();
    let summary = summary(&outcomes, command.trim_end(), &commit);
    println!("{}", summary["result"].as_str().unwrap_or_default());
    let path = out_dir.join("import.json");
    let results = json!({"summary": summary, "runs": outcomes.iter().map(Outcome::json).collect::<Vec<_>>(), "machine": machine()});
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let report = format!(
        "# Contact import benchmark\n\n- command: `{}`\n- commit: {}\n- machine: {}\n\n{table}\n\
         Each size runs in a fresh release-mode control plane; the CSV is generated while it\n\
         is sent (~1% invalid phones, ~0.5% duplicates, 2 variable columns) and POSTed as\n\
         `text/csv` with `defaultCountry=US`. Wall time is the whole request. The peak RSS\n\
         during the upload is the server's VmHWM after the upload, with the peak reset\n\
         (`/proc/<pid>/clear_refs`) once registration and list creation are done: the\n\
         Argon2 password hash at registration briefly takes ~19 MiB and would otherwise\n\
         be the peak at every size. CPU is user + system seconds during the upload: the\n\
         control plane, PostgreSQL (all of the cluster's processes) and the bench itself.\n",
        command.trim_end(),
        commit,
        machine()
    );
    let path = out_dir.join("import.md");
    std::fs::write(&path, report).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("written to {}", path.display());
    Ok(())
}

/// Imports `rows` rows into a fresh control plane and measures it.
async fn run(
    rows: u64,
    binary: &Path,
    database_url: &str,
    out_dir: &Path,
    client: &reqwest::Client,
    postmaster: Option<u32>,
) -> anyhow::Result<Outcome> {
    let log = out_dir.join(format!("control-plane-{rows}.log"));
    let mut server = ControlPlane::start(binary, database_url, &log).await?;
    server
        .wait_healthy(client, Duration::from_secs(60))
        .await
        .with_context(|| format!("see {}", log.display()))?;
    let base = server.base_url.clone();

    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let registered: Value = expect(
        client
            .post(format!("{base}/api/v1/auth/register"))
            .json(
                &json!({"email": format!("bench-{rows}-{stamp}@example.com"),
                          "password": "bench-password-1", "organizationName": "Import bench"}),
            )
            .send()
            .await?,
        201,
    )
    .await?;
    let token = registered["token"]
        .as_str()
        .context("no token")?
        .to_string();
    let list: Value = expect(
        client
            .post(format!("{base}/api/v1/contact-lists"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("Bench {rows}")}))
            .send()
            .await?,
        201,
    )
    .await?;
    let list_id = list["id"].as_str().context("no list id")?.to_string();

    // Registering hashes a password with Argon2 (about 19 MiB for a moment); that peak
    // would hide the import's own, so the peak starts over here.
    let setup_peak_kib = server.memory()?.peak_kib;
    server.reset_peak()?;
    let rss_before_kib = server.memory()?.rss_kib;
    let csv = ContactsCsv { rows };
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let body = csv.stream(64 * 1024).inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    let cpu_before = cpu_now(&server, postmaster);
    let started = Instant::now();
    let response = client
        .post(format!(
            "{base}/api/v1/contact-lists/{list_id}/contacts?defaultCountry=US"
        ))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "text/csv")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await?;
    let report: Value = expect(response, 201).await?;
    let elapsed = started.elapsed();
    let peak_kib = server.memory()?.peak_kib;
    let cpu_after = cpu_now(&server, postmaster);
    let cpu = Cpu {
        control_plane: cpu_after.control_plane - cpu_before.control_plane,
        postgres: cpu_after
            .postgres
            .zip(cpu_before.postgres)
            .map(|(a, b)| a - b),
        bench: cpu_after.bench - cpu_before.bench,
    };

    // Leave the database as we found it (not timed).
    let deleted = client
        .delete(format!("{base}/api/v1/contact-lists/{list_id}"))
        .bearer_auth(&token)
        .send()
        .await?;
    if !deleted.status().is_success() {
        eprintln!("  could not delete the bench list: {}", deleted.status());
    }
    server.stop().await?;

    Ok(Outcome {
        rows,
        bytes: sent.load(Ordering::Relaxed),
        elapsed,
        accepted: report["accepted"].as_u64().context("no accepted count")?,
        rejected: report["rejected"].as_u64().context("no rejected count")?,
        expected: csv.expected(),
        setup_peak_kib,
        rss_before_kib,
        peak_kib,
        cpu,
    })
}

/// The CPU seconds used so far by each party.
fn cpu_now(server: &ControlPlane, postmaster: Option<u32>) -> Cpu {
    Cpu {
        control_plane: cpu_seconds_of(server.pid()).unwrap_or(0.0),
        postgres: postmaster.and_then(|pid| cluster_cpu_seconds(pid).ok()),
        bench: cpu_seconds_of(std::process::id()).unwrap_or(0.0),
    }
}

/// The postmaster of the cluster at `database_url`: the parent of a backend. Only when
/// the server runs on this machine (its backend's process is visible in `/proc`).
async fn postmaster_pid(database_url: &str) -> anyhow::Result<u32> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url).await?;
    let backend: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut conn)
        .await?;
    let parent = parent_pid(backend as u32)?;
    conn.close().await?;
    Ok(parent)
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

/// CPU seconds of the postmaster's living children (backends, WAL writer, checkpointer,
/// ...) plus those that have exited, which the kernel adds to the postmaster's own
/// children's times when it reaps them.
fn cluster_cpu_seconds(postmaster: u32) -> anyhow::Result<f64> {
    let mut total = exited_children_cpu_seconds(postmaster)?;
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
    Ok(total + cpu_seconds_of(postmaster)?)
}

/// `cutime + cstime` of `pid`: the CPU of its children that have exited and been reaped.
fn exited_children_cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat.rsplit_once(") ").context("odd /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 (1-based), 13 and 14 after the name.
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("short /proc stat")?.parse::<f64>()?)
    };
    // In USER_HZ clock ticks, 100 per second on Linux.
    Ok((ticks(13)? + ticks(14)?) / 100.0)
}

/// The `summary` object of the results contract: the 1,000,000-row run (or the largest
/// one) against the goal of 100,000 rows/s.
fn summary(outcomes: &[Outcome], command: &str, commit: &str) -> Value {
    let headline = outcomes
        .iter()
        .find(|o| o.rows == 1_000_000)
        .or_else(|| outcomes.iter().max_by_key(|o| o.rows));
    let (result, met) = match headline {
        Some(o) => {
            let rate = o.rows_per_second();
            (
                format!(
                    "{} rows in {:.1} s = {:.0} rows/s, peak RSS {}{}",
                    o.rows,
                    o.elapsed.as_secs_f64(),
                    rate,
                    mib(o.peak_kib),
                    if o.as_expected() {
                        ""
                    } else {
                        ", counts NOT as expected"
                    }
                ),
                o.rows >= 1_000_000 && rate >= GOAL_ROWS_PER_SECOND && o.as_expected(),
            )
        }
        None => ("no run".to_string(), false),
    };
    json!({
        "benchmark": "import",
        "command": command,
        "commit": commit,
        "goal": "1,000,000 CSV rows through the HTTP API in <= 10 s (100k rows/s), bounded memory",
        "result": result,
        "met": met,
    })
}

impl Outcome {
    fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }

    fn as_expected(&self) -> bool {
        (self.accepted, self.rejected) == self.expected
    }

    fn json(&self) -> Value {
        json!({
            "rows": self.rows,
            "csvBytes": self.bytes,
            "seconds": self.elapsed.as_secs_f64(),
            "rowsPerSecond": self.rows_per_second(),
            "accepted": self.accepted,
            "rejected": self.rejected,
            "asExpected": self.as_expected(),
            "setupPeakKib": self.setup_peak_kib,
            "rssBeforeKib": self.rss_before_kib,
            "peakKib": self.peak_kib,
            "cpuSeconds": {
                "controlPlane": self.cpu.control_plane,
                "postgres": self.cpu.postgres,
                "bench": self.cpu.bench,
            },
        })
    }
}

/// The JSON body of `response`, which must have `status`.
async fn expect(response: reqwest::Response, status: u16) -> anyhow::Result<Value> {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if actual != status {
        bail!("expected {status}, got {actual}: {body}");
    }
    Ok(body)
}

fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::from(
        "| rows | CSV size | wall time | rows/s | accepted | rejected | as expected | peak RSS of set-up | RSS before upload | peak RSS during upload (VmHWM) | CPU s: control plane | CPU s: PostgreSQL | CPU s: bench |\n\
         |---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for o in outcomes {
        let seconds = o.elapsed.as_secs_f64();
        out.push_str(&format!(
            "| {} | {:.1} MiB | {:.1} s | {:.0} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.1} |\n",
            o.rows,
            o.bytes as f64 / (1024.0 * 1024.0),
            seconds,
            o.rows as f64 / seconds,
            o.accepted,
            o.rejected,
            if o.as_expected() { "yes" } else { "NO" },
            mib(o.setup_peak_kib),
            mib(o.rss_before_kib),
            mib(o.peak_kib),
            o.cpu.control_plane,
            o.cpu.postgres.map_or("n/a".to_string(), |s| format!("{s:.1}")),
            o.cpu.bench,
        ));
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit} (with uncommitted changes)")
            } else {
                commit
            }
        }
        None => "unknown".to_string(),
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {cpu}")
}
