//! Voice load benchmark: how many concurrent calls one agent-worker core holds with no
//! audible gap. `./dev bench voice [N ...]` (default 50 100 200 300 400 500).
//!
//! The worker runs in standalone mode pinned to CPU 0 with one runtime thread; this
//! harness (Twilio callees with playout clocks, provider emulators) pins itself to CPU 1.
//! Each N runs on a fresh worker; the series stops at the first N that is not clean.
//! Writes `target/bench/voice.json` and `target/bench/voice.md`, and says pass or fail
//! against the targets.

use anyhow::Context;
use outbound_tests::bench::voice::{VoiceBench, VoiceResult};
use outbound_tests::process::workspace_binary;
use std::time::Duration;

/// Targets from the issue: calls per core, own overhead p99, barge-in, memory per call.
const TARGET_CALLS: usize = 500;
const TARGET_OVERHEAD_P99_MS: f64 = 10.0;
const TARGET_BARGE_IN_MS: f64 = 300.0;
const TARGET_KIB_PER_CALL: f64 = 2048.0;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let series: Vec<usize> = {
        let given: Result<Vec<usize>, _> = std::env::args().skip(1).map(|a| a.parse()).collect();
        let given = given.context("arguments are call counts")?;
        if given.is_empty() {
            vec![50, 100, 200, 300, 400, 500]
        } else {
            given
        }
    };
    pin_self(1);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default()
        .trim()
        .to_string();
    let worker_binary = workspace_binary("agent-worker")?;
    let mut results: Vec<VoiceResult> = Vec::new();
    for &calls in &series {
        let bench = VoiceBench {
            calls,
            worker_binary: worker_binary.clone(),
            worker_cpu: Some(0),
            worker_threads: 1,
            ramp: Duration::from_millis(20 * calls as u64).max(Duration::from_secs(2)),
            stt_delay_ms: 0,
            llm_first_token_ms: 0,
            tts_first_byte_ms: 0,
            work_dir: format!("target/bench/voice-{calls}").into(),
        };
        eprintln!("running {calls} concurrent calls...");
        let result = bench.run().await?;
        eprintln!("{}", row(&result));
        let clean = result.clean();
        results.push(result);
        if !clean {
            break;
        }
    }
    let report = render(&series, &results, &commit);
    std::fs::create_dir_all("target/bench")?;
    std::fs::write("target/bench/voice.md", &report)?;
    std::fs::write(
        "target/bench/voice.json",
        serde_json::to_string_pretty(&serde_json::json!({
            "command": format!("./dev bench voice {}", series.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" ")),
            "commit": commit,
            "results": results,
        }))?,
    )?;
    println!("{report}");
    Ok(())
}

/// Pins this process (all its threads) to `cpu`, so the worker has the other core.
fn pin_self(cpu: usize) {
    let pid = std::process::id().to_string();
    let pinned = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &pid])
        .output();
    if !pinned.is_ok_and(|o| o.status.success()) {
        eprintln!("warning: could not pin the harness to CPU {cpu} (is taskset installed?)");
    }
}

fn ms(p: &Option<outbound_tests::bench::stats::Percentiles>) -> String {
    p.map(|p| format!("{:.0} / {:.0} / {:.0}", p.p50, p.p99, p.max))
        .unwrap_or_else(|| "-".into())
}

fn row(r: &VoiceResult) -> String {
    format!(
        "| {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.1} | {:.0} |",
        r.calls,
        r.completed,
        r.calls,
        r.calls_with_gaps,
        r.dropped_callee_frames,
        r.missing_echoes,
        ms(&r.turn_latency_ms),
        ms(&r.own_overhead_ms),
        r.worker_own_overhead_ms
            .map(|(p50, p99)| format!("{p50:.2} / {p99:.2}"))
            .unwrap_or_else(|| "-".into()),
        ms(&r.barge_in_ms),
        r.worker_cpu_cores,
        r.harness_cpu_cores,
        r.worker_cpu_ms_per_call_second,
        r.memory_per_call_kib,
    )
}

fn render(series: &[usize], results: &[VoiceResult], commit: &str) -> String {
    let mut out = format!(
        "# Voice load benchmark\n\n`./dev bench voice {}` at commit {commit}: agent worker pinned to CPU 0 \
         (one runtime thread), harness on CPU 1, emulated providers with zero configured latency.\n\n\
         | calls | completed | calls with gaps | lost callee frames | missing echoes | turn latency p50/p99/max ms | ear minus configured latencies p50/p99/max ms | worker's own time per turn p50/p99 ms | barge-in p50/p99/max ms | worker cores | harness cores | worker CPU ms per call-second | KiB per call |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        series.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" ")
    );
    for r in results {
        out.push_str(&row(r));
        out.push('\n');
    }
    let clean: Vec<&VoiceResult> = results.iter().filter(|r| r.clean()).collect();
    let best = clean.iter().map(|r| r.calls).max().unwrap_or(0);
    out.push_str(&format!(
        "\nMost concurrent calls held cleanly on one worker core: **{best}**.\n"
    ));
    if let Some(last) = results.last() {
        if last.harness_cpu_cores >= 0.95 {
            out.push_str(&format!(
                "\nThe harness saturated its core ({:.2} cores) at {} calls before the worker did \
                 ({:.2} cores): the worker's capacity is bounded by its CPU per call, {:.1} ms per \
                 call-second, i.e. about {:.0} calls per core.\n",
                last.harness_cpu_cores,
                last.calls,
                last.worker_cpu_cores,
                last.worker_cpu_ms_per_call_second,
                1000.0 / last.worker_cpu_ms_per_call_second.max(0.001)
            ));
        }
    }
    let verdicts = [
        ("calls per core >= 500", best >= TARGET_CALLS),
        (
            "own overhead p99 <= 10 ms (the worker's own time per turn)",
            clean
                .last()
                .and_then(|r| r.worker_own_overhead_ms)
                .is_some_and(|(_, p99)| p99 <= TARGET_OVERHEAD_P99_MS),
        ),
        (
            "barge-in <= 300 ms",
            clean
                .last()
                .and_then(|r| r.barge_in_ms)
                .is_some_and(|p| p.max <= TARGET_BARGE_IN_MS),
        ),
        (
            "<= 2 MB per call",
            clean
                .last()
                .is_some_and(|r| r.memory_per_call_kib <= TARGET_KIB_PER_CALL),
        ),
    ];
    out.push('\n');
    for (target, met) in verdicts {
        out.push_str(&format!(
            "- {target}: {}\n",
            if met { "PASS" } else { "FAIL" }
        ));
    }
    out
}
