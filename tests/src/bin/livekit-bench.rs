//! LiveKit calls-per-core benchmark: how many concurrent LiveKit calls one agent-worker
//! core holds with no audible gap. `./dev bench livekit [N ...]` (default 25 50 100 150).
//!
//! The worker (LiveKit mode, one runtime thread) is pinned to CPU 0 at niceness -10, so
//! its core is its own whenever it wants it; this harness (the WebRTC callees, the control
//! plane, the provider emulators, on two runtime threads) and livekit-server, which it
//! starts, are not pinned: from about 80 calls they need more than the other core. Each N runs on a fresh server, control plane and worker; the
//! series stops at the first N that is not clean. Needs `DATABASE_URL` (./dev provides
//! one) and livekit-server (`LIVEKIT_SERVER_BIN` or ./dev test's cache). The worker is
//! `AGENT_WORKER_BIN` when set (a target directory shared by several checkouts may hold
//! another checkout's build), else the one built beside this binary. Writes
//! `target/bench/livekit.json` and `target/bench/livekit.md`.

use anyhow::Context;
use outbound_tests::bench::livekit::{LiveKitBench, LiveKitResult};
use outbound_tests::bench::livekit_callee::JITTER;
use outbound_tests::bench::stats::Percentiles;
use outbound_tests::process::workspace_binary;
use std::time::Duration;

/// The target: calls held cleanly on one worker core.
const TARGET_CALLS: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let series: Vec<usize> = {
        let given: Result<Vec<usize>, _> = std::env::args().skip(1).map(|a| a.parse()).collect();
        let given = given.context("arguments are call counts")?;
        if given.is_empty() {
            vec![25, 50, 100, 150]
        } else {
            given
        }
    };
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default()
        .trim()
        .to_string();
    let worker_binary = match std::env::var_os("AGENT_WORKER_BIN") {
        Some(path) => path.into(),
        None => workspace_binary("agent-worker")?,
    };
    let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let mut results: Vec<LiveKitResult> = Vec::new();
    for &calls in &series {
        let bench = LiveKitBench {
            calls,
            worker_binary: worker_binary.clone(),
            worker_cpu: Some(0),
            worker_threads: 1,
            ramp: Duration::from_millis(40 * calls as u64).max(Duration::from_secs(2)),
            database_url: database_url.clone(),
            work_dir: format!("target/bench/livekit-{calls}").into(),
        };
        eprintln!("running {calls} concurrent LiveKit calls...");
        let result = bench.run().await?;
        eprintln!("{}", row(&result));
        eprintln!("  {}", diagnosis(&result));
        for error in &result.errors {
            eprintln!("  a callee: {error}");
        }
        let clean = result.clean();
        results.push(result);
        if !clean {
            break;
        }
    }
    let command = format!(
        "./dev bench livekit {}",
        series
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let report = render(&command, &results, &commit);
    std::fs::create_dir_all("target/bench")?;
    std::fs::write("target/bench/livekit.md", &report)?;
    std::fs::write(
        "target/bench/livekit.json",
        serde_json::to_string_pretty(&serde_json::json!({
            "command": command,
            "commit": commit,
            "results": results,
        }))?,
    )?;
    println!("{report}");
    Ok(())
}

/// Where gaps came from: shared by many calls at once, the harness's own lateness, and
/// the worker's send clocks.
fn diagnosis(r: &LiveKitResult) -> String {
    format!(
        "{} calls: {} of {} gap frames came within 100 ms of another call's; harness runtime \
         lag p50/p99/max {} ms; worker send clocks: {} frames sent late to catch up, {} ticks \
         skipped; {} callee packets reached the worker after a lost one",
        r.calls,
        r.gaps_shared,
        r.gaps,
        ms(&r.harness_lag_ms),
        r.worker_frames_caught_up,
        r.worker_ticks_skipped,
        r.worker_packets_after_loss
    )
}

fn ms(p: &Option<Percentiles>) -> String {
    p.map(|p| format!("{:.0} / {:.0} / {:.0}", p.p50, p.p99, p.max))
        .unwrap_or_else(|| "-".into())
}

fn row(r: &LiveKitResult) -> String {
    format!(
        "| {} | {}/{} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.0} |",
        r.calls,
        r.completed,
        r.calls,
        r.calls_with_gaps,
        match (r.gap_late_ms, r.gap_at_ms) {
            (Some(late), Some(at)) => format!(
                "{} frames, {:.0} / {:.0} ms late, at {:.0} / {:.0} ms",
                r.gaps, late.p50, late.max, at.p50, at.max
            ),
            _ => "-".into(),
        },
        r.missing_echoes,
        r.undecodable,
        ms(&r.turn_latency_ms),
        ms(&r.barge_in_ms),
        r.worker_cpu_cores,
        r.harness_cpu_cores,
        r.livekit_server_cpu_cores,
        r.worker_cpu_ms_per_call_second,
        r.memory_per_call_kib,
    )
}

fn render(command: &str, results: &[LiveKitResult], commit: &str) -> String {
    let mut out = format!(
        "# LiveKit calls per core\n\n`{command}` at commit {commit}: agent worker in LiveKit mode \
         pinned to CPU 0 at niceness -10 (one runtime thread); livekit-server, the WebRTC \
         callees, the control plane and the zero-latency provider emulators unpinned, on what \
         the worker leaves of its core and the other one. A gap is a frame of the \
         agent's track reaching the callee later than its {} ms jitter buffer allows.\n\n\
         | calls | completed | calls with gaps | gap frames: lateness p50 / max, position in the call p50 / max | missing echoes | undecodable at the ear | turn latency p50/p99/max ms | barge-in p50/p99/max ms | worker cores | harness cores | livekit-server cores | worker CPU ms per call-second | KiB per call |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        JITTER.as_millis()
    );
    for r in results {
        out.push_str(&row(r));
        out.push('\n');
    }
    out.push('\n');
    for r in results {
        out.push_str(&format!("- {}\n", diagnosis(r)));
    }
    let best = results
        .iter()
        .filter(|r| r.clean())
        .map(|r| r.calls)
        .max()
        .unwrap_or(0);
    out.push_str(&format!(
        "\nMost concurrent LiveKit calls held cleanly on one worker core: **{best}**.\n"
    ));
    if let Some(last) = results.last() {
        let other_core = last.harness_cpu_cores + last.livekit_server_cpu_cores;
        out.push_str(&format!(
            "\nAt {} calls the worker used {:.2} cores ({:.1} ms per call-second, i.e. about \
             {:.0} calls per core if only the worker's CPU counted) while the harness and \
             livekit-server used {:.2} cores together.\n",
            last.calls,
            last.worker_cpu_cores,
            last.worker_cpu_ms_per_call_second,
            1000.0 / last.worker_cpu_ms_per_call_second.max(0.001),
            other_core,
        ));
    }
    out.push_str(&format!(
        "\n- calls per core >= {TARGET_CALLS}: {}\n",
        if best >= TARGET_CALLS { "PASS" } else { "FAIL" }
    ));
    out
}
