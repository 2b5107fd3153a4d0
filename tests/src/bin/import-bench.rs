//! `./dev bench import [ROWS...]`: how fast the control plane imports a streamed contact
//! CSV and how much memory that takes. Each size (default 100,000 and 1,000,000 rows) gets
//! a fresh control-plane process, so its peak RSS belongs to that upload alone. Prints a
//! markdown table and writes it to `<target dir>/bench/import.md`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use futures::StreamExt;
use outbound_tests::contacts_csv::ContactsCsv;
use outbound_tests::process::ControlPlane;
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

const DEFAULT_SIZES: [u64; 2] = [100_000, 1_000_000];

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
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().context("the bench has no directory")?;
    let binary = bin_dir.join("control-plane");
    ensure!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release -p control-plane`",
        binary.display()
    );
    let out_dir = bin_dir
        .parent()
        .map(|target| target.join("bench"))
        .context("no target directory above the bench")?;
    std::fs::create_dir_all(&out_dir)?;

    let client = reqwest::Client::new();
    let mut outcomes = Vec::new();
    for rows in sizes {
        eprintln!("importing {rows} rows…");
        let outcome = run(rows, &binary, &database_url, &out_dir, &client).await?;
        eprintln!(
            "  {:.1} s, peak RSS {}",
            outcome.elapsed.as_secs_f64(),
            mib(outcome.peak_kib)
        );
        outcomes.push(outcome);
    }

    let table = table(&outcomes);
    println!("{table}");
    let command = format!("./dev bench import {}", args.join(" "));
    let report = format!(
        "# Contact import benchmark\n\n- command: `{}`\n- commit: {}\n- machine: {}\n\n{table}\n\
         Each size runs in a fresh release-mode control plane; the CSV is generated while it\n\
         is sent (~1% invalid phones, ~0.5% duplicates, 2 variable columns) and POSTed as\n\
         `text/csv` with `defaultCountry=US`. Wall time is the whole request. The peak RSS\n\
         during the upload is the server's VmHWM after the upload, with the peak reset\n\
         (`/proc/<pid>/clear_refs`) once registration and list creation are done: the\n\
         Argon2 password hash at registration briefly takes ~19 MiB and would otherwise\n\
         be the peak at every size.\n",
        command.trim_end(),
        git_commit(),
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
    })
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
        "| rows | CSV size | wall time | rows/s | accepted | rejected | as expected | peak RSS of set-up | RSS before upload | peak RSS during upload (VmHWM) |\n\
         |---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|\n",
    );
    for o in outcomes {
        let seconds = o.elapsed.as_secs_f64();
        out.push_str(&format!(
            "| {} | {:.1} MiB | {:.1} s | {:.0} | {} | {} | {} | {} | {} | {} |\n",
            o.rows,
            o.bytes as f64 / (1024.0 * 1024.0),
            seconds,
            o.rows as f64 / seconds,
            o.accepted,
            o.rejected,
            if (o.accepted, o.rejected) == o.expected {
                "yes"
            } else {
                "NO"
            },
            mib(o.setup_peak_kib),
            mib(o.rss_before_kib),
            mib(o.peak_kib),
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
