//! Voice load benchmark: how many concurrent calls one agent-worker core holds with no
//! audible gap. `./dev bench voice [N ...]` (default 1 100 200 300 400 500; a one-call
//! run is always first, it is the latency baseline).
//!
//! The worker runs in standalone mode pinned to CPU 0 with one runtime thread; this
//! harness (Twilio callees with playout clocks, provider emulators) pins itself to CPU 1.
//! Each N runs on a fresh worker; after the one-call baseline the default series stops at
//! the first N that is not clean (counts given as arguments all run).
//! Writes `target/bench/voice.json` (with the `summary` object every bench writes) and
//! `target/bench/voice.md`, with per-stage timings and the slowest turns in full, and
//! says pass or fail against the targets. `AGENT_WORKER_BIN` picks the worker binary (a
//! shared target directory may hold another checkout's build).

use anyhow::Context;
use outbound_tests::bench::stages::STAGES;
use outbound_tests::bench::voice::{VoiceBench, VoiceResult};
use outbound_tests::process::agent_worker_binary;
use std::time::Duration;

/// Targets from the issues: calls per core, p99 turn latency within 100 ms of one call's,
/// worker CPU per call-second, own overhead p99, barge-in, memory per call.
const TARGET_CALLS: usize = 500;
const TARGET_P99_OVER_ONE_CALL_MS: f64 = 100.0;
const TARGET_CPU_MS_PER_CALL_SECOND: f64 = 1.2;
const TARGET_OVERHEAD_P99_MS: f64 = 10.0;
const TARGET_BARGE_IN_MS: f64 = 300.0;
const TARGET_KIB_PER_CALL: f64 = 2048.0;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let given: Result<Vec<usize>, _> = std::env::args().skip(1).map(|a| a.parse()).collect();
    let given = given.context("arguments are call counts")?;
    // The default series stops at the first N that is not clean; counts given on the
    // command line all run (the figures of a bigger N are wanted even when a smaller one
    // missed, e.g. on a shared machine).
    let run_all = !given.is_empty();
    let series: Vec<usize> = {
        let mut series = if given.is_empty() {
            vec![100, 200, 300, 400, 500]
        } else {
            given
        };
        if series.first() != Some(&1) {
            series.insert(0, 1);
        }
        series
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
    let worker_binary = agent_worker_binary()?;
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
        eprintln!("callee frames: {:?}", result.frames);
        // The one-call run is the latency baseline: the series goes on after it whatever
        // it measured (its row says whether it was clean).
        let stop = !result.clean() && calls > 1 && !run_all;
        results.push(result);
        if stop {
            break;
        }
    }
    let report = render(&series, &results, &commit);
    let command = format!(
        "./dev bench voice {}",
        series
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    std::fs::create_dir_all("target/bench")?;
    std::fs::write("target/bench/voice.md", &report)?;
    std::fs::write(
        "target/bench/voice.json",
        serde_json::to_string_pretty(&serde_json::json!({
            "summary": summary(&results, &command, &commit),
            "command": command,
            "commit": commit,
            "results": results,
        }))?,
    )?;
    println!("{report}");
    Ok(())
}

/// The verdict on the goal, judged on the biggest run: whether it was clean, and its
/// latency and CPU against the targets.
struct Verdict<'a> {
    /// The biggest run, if it was clean.
    best: Option<&'a VoiceResult>,
    /// The biggest run, clean or not (its figures are reported either way).
    last: Option<&'a VoiceResult>,
    one_call_p99: Option<f64>,
}

impl<'a> Verdict<'a> {
    fn of(results: &'a [VoiceResult]) -> Self {
        let last = results.iter().max_by_key(|r| r.calls);
        Verdict {
            best: results.iter().filter(|r| r.clean()).max_by_key(|r| r.calls),
            last,
            one_call_p99: results
                .iter()
                .find(|r| r.calls == 1)
                .and_then(|r| r.turn_latency_ms)
                .map(|p| p.p99),
        }
    }

    fn calls(&self) -> usize {
        self.best.map_or(0, |r| r.calls)
    }

    /// p99 turn latency of the biggest run minus the one-call figure.
    fn p99_over_one_call(&self) -> Option<f64> {
        Some(self.last?.turn_latency_ms?.p99 - self.one_call_p99?)
    }

    fn cpu_ms(&self) -> Option<f64> {
        self.last.map(|r| r.worker_cpu_ms_per_call_second)
    }

    fn met(&self) -> bool {
        let biggest_is_clean = self.best.map(|r| r.calls) == self.last.map(|r| r.calls);
        biggest_is_clean
            && self.calls() >= TARGET_CALLS
            && self
                .p99_over_one_call()
                .is_some_and(|d| d <= TARGET_P99_OVER_ONE_CALL_MS)
            && self
                .cpu_ms()
                .is_some_and(|c| c <= TARGET_CPU_MS_PER_CALL_SECOND)
    }
}

/// The summary object every bench's JSON carries.
fn summary(results: &[VoiceResult], command: &str, commit: &str) -> serde_json::Value {
    let v = Verdict::of(results);
    serde_json::json!({
        "benchmark": "voice",
        "command": command,
        "commit": commit,
        "goal": ">= 500 concurrent calls on one worker core with zero gaps at the ear, zero \
                 missed echoes, p99 turn latency within 100 ms of the one-call figure, and \
                 worker CPU <= 1.2 ms per call-second",
        "result": format!(
            "{} concurrent calls clean on one worker core; at {} calls p99 turn latency {} ms \
             over one call's and {} ms of worker CPU per call-second",
            v.calls(),
            v.last.map_or(0, |r| r.calls),
            v.p99_over_one_call().map_or("-".into(), |d| format!("{d:.0}")),
            v.cpu_ms().map_or("-".into(), |c| format!("{c:.2}")),
        ),
        "met": v.met(),
    })
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
        "| {} | {:.0} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {:.2} ({:.2}) | {:.2} ({:.2}) | {:.2} | {:.0} |",
        r.calls,
        r.mean_live_calls,
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
        r.worker_runqueue_wait,
        r.harness_cpu_cores,
        r.harness_runqueue_wait,
        r.worker_cpu_ms_per_call_second,
        r.memory_per_call_kib,
    )
}

fn render(series: &[usize], results: &[VoiceResult], commit: &str) -> String {
    let mut out = format!(
        "# Voice load benchmark\n\n`./dev bench voice {}` at commit {commit}: agent worker pinned to CPU 0 \
         (one runtime thread), harness on CPU 1, emulated providers with zero configured latency.\n\n\
         | calls | live in CPU window (mean) | completed | calls with gaps | lost callee frames | missing echoes | turn latency p50/p99/max ms | ear minus configured latencies p50/p99/max ms | worker's own time per turn p50/p99 ms | barge-in p50/p99/max ms | worker cores (waiting for a CPU) | harness cores (waiting) | worker CPU ms per call-second | KiB per call |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        series.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" ")
    );
    for r in results {
        out.push_str(&row(r));
        out.push('\n');
    }
    out.push_str(&frame_table(results));
    let clean: Vec<&VoiceResult> = results.iter().filter(|r| r.clean()).collect();
    let verdict = Verdict::of(results);
    let best = verdict.calls();
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
        out.push_str(&stage_tables(last));
    }
    let verdicts = [
        ("calls per core >= 500", best >= TARGET_CALLS),
        (
            "the biggest run is clean",
            verdict.best.map(|r| r.calls) == verdict.last.map(|r| r.calls),
        ),
        (
            "p99 turn latency within 100 ms of the one-call figure",
            verdict
                .p99_over_one_call()
                .is_some_and(|d| d <= TARGET_P99_OVER_ONE_CALL_MS),
        ),
        (
            "worker CPU <= 1.2 ms per call-second",
            verdict
                .cpu_ms()
                .is_some_and(|c| c <= TARGET_CPU_MS_PER_CALL_SECOND),
        ),
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

/// Where every callee frame went, per run: a lost frame is attributed to a place.
fn frame_table(results: &[VoiceResult]) -> String {
    let mut out = String::from(
        "\nWhere the callees' frames went (20 ms each): `queue dropped` at the Twilio \
         emulator's full stream queue (never sent), `worker dropped` by the worker's session \
         (its STT input full), `in flight` sent but never received by the STT emulator (on \
         the way when the call ended; up to 2 per call is clean); then the STT sessions and \
         the callee utterances the STT emulator could not decode.\n\n\
         | calls | queue dropped | sent | worker dropped | STT received | in flight | STT sessions (still open) | undecodable at the STT |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        let f = &r.frames;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} ({}) | {} |\n",
            r.calls,
            f.queue_dropped,
            f.sent,
            f.worker_dropped,
            f.stt_received,
            f.in_flight,
            f.stt_sessions,
            f.stt_sessions_open,
            f.stt_undecodable
        ));
    }
    out
}

/// Where the turns of a run spent their time: per-stage percentiles, then the slowest
/// turns (and any never answered) stage by stage.
fn stage_tables(r: &VoiceResult) -> String {
    let stages = &r.stages;
    let mut out = format!(
        "\n## Where the time went at {} calls\n\n{} of {} callee turns traced through the \
         worker's stage marks. Stages (ms): `in` phone to worker, `stt_send` worker to the \
         STT emulator's final (includes its 300 ms endpointing), `stt_receive` back to the \
         session, `turn_end` waiting for the end-of-turn signal, `llm` to the first clause, \
         `tts` to the first audio byte, `pacer` to the first frame sent, `out` to the ear.\n\n\
         | stage | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|\n",
        r.calls, stages.traced, stages.turns
    );
    for stage in STAGES {
        if let Some(p) = stages.percentiles.get(stage) {
            out.push_str(&format!(
                "| {stage} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                p.p50, p.p90, p.p99, p.max
            ));
        }
    }
    out.push_str(&format!(
        "\nThe slowest turns:\n\n| call | said | at the ear | {} |\n|---:|---|---:|{}\n",
        STAGES.join(" | "),
        "---:|".repeat(STAGES.len())
    ));
    for t in &stages.slowest {
        let cells: Vec<String> = STAGES
            .iter()
            .map(|s| {
                t.stages
                    .get(s)
                    .map_or("-".to_string(), |v| format!("{v:.0}"))
            })
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            t.call,
            t.said,
            t.at_ear_ms
                .map_or("never".to_string(), |v| format!("{v:.0}")),
            cells.join(" | ")
        ));
    }
    out
}
