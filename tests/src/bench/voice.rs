//! The voice load benchmark: N concurrent emulated calls against one agent-worker process
//! in standalone mode. The harness (this process) runs the Twilio emulator's callees and
//! the provider emulators; each callee listens on its own 8 kHz playout clock, so a gap
//! in the agent's audio is an underrun at the ear, not a guess.
//!
//! Per call the callee answers, hears the first message, says a token, checks it hears
//! it echoed, does that twice more, and says goodbye (a call lasts about half a minute); every fourth callee also talks over the
//! first message (barge-in). Measured: gaps, lost callee audio, wrong or missing echoes,
//! turn latency at the ear and our own share of it, barge-in stop time, worker CPU and
//! memory per call, and the harness's own CPU.

use crate::bench::frame_ledger::FrameLedger;
use crate::bench::stages::{self, StageReport};
use crate::bench::stats::Percentiles;
use crate::process::{cpu_seconds_of, memory_of, AgentWorker};
use crate::providers::{ProviderConfig, ProviderEmulator};
use crate::speech_code::utterance_samples;
use crate::twilio::{CallReport, CalleeScript, Emulator, EmulatorConfig, EmulatorHandle};
use anyhow::Context;
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct VoiceBench {
    /// Concurrent calls.
    pub calls: usize,
    /// The agent-worker binary.
    pub worker_binary: PathBuf,
    /// CPU the worker is pinned to (`taskset`), if any.
    pub worker_cpu: Option<usize>,
    /// Tokio worker threads in the agent worker.
    pub worker_threads: usize,
    /// Calls are started evenly over this long.
    pub ramp: Duration,
    /// Emulated provider latencies (ms): STT results, LLM first token, TTS first byte.
    pub stt_delay_ms: u64,
    pub llm_first_token_ms: u64,
    pub tts_first_byte_ms: u64,
    /// Where logs, the assistant file and recordings go.
    pub work_dir: PathBuf,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct VoiceResult {
    pub calls: usize,
    pub completed: usize,
    /// Calls with at least one gap (underrun) in the agent's audio at the ear.
    pub calls_with_gaps: usize,
    pub gaps: usize,
    /// Callee frames made that never reached the STT provider (`frames.lost()`).
    pub dropped_callee_frames: i64,
    /// Where every callee frame went (see [`FrameLedger`]).
    pub frames: FrameLedger,
    /// Echoes the callee expected and did not hear (lost, wrong or undecodable).
    pub missing_echoes: usize,
    /// Utterances at the ear that did not decode.
    pub undecodable: usize,
    /// End of callee speech to the start of the agent's reply at the ear (ms).
    pub turn_latency_ms: Option<Percentiles>,
    /// Turn latency minus the configured endpointing and emulator latencies (ms).
    pub own_overhead_ms: Option<Percentiles>,
    /// Callee speech start to the agent's audio stopping at the ear (ms).
    pub barge_in_ms: Option<Percentiles>,
    /// The worker's own time per turn as it measures it (p50, p99 in ms, bucket upper
    /// bounds of its `agent_own_overhead_seconds` histogram).
    pub worker_own_overhead_ms: Option<(f64, f64)>,
    /// Worker CPU over the busiest window, in cores (1.0 = one core busy).
    pub worker_cpu_cores: f64,
    /// Harness CPU over the same window, in cores.
    pub harness_cpu_cores: f64,
    /// Worker CPU milliseconds per call-second (call-seconds counted from each call's
    /// answer and end inside the CPU window, not assumed).
    pub worker_cpu_ms_per_call_second: f64,
    /// Calls live on average during the CPU window (call-seconds / window seconds).
    pub mean_live_calls: f64,
    /// Share of the CPU window the worker's busiest thread (its event loop) was ready but
    /// waiting for a CPU (other processes on its core: the machine is shared); likewise
    /// the harness's.
    pub worker_runqueue_wait: f64,
    pub harness_runqueue_wait: f64,
    /// (peak RSS - idle RSS) / calls, KiB.
    pub memory_per_call_kib: f64,
    pub worker_idle_rss_kib: u64,
    pub worker_peak_rss_kib: u64,
    pub wall_seconds: f64,
    /// Where the turns spent their time, stage by stage, and the slowest turns in full.
    pub stages: StageReport,
}

impl VoiceResult {
    /// Whether the audio was perfect: no gaps, nothing lost, every echo heard. Up to
    /// `HANG_UP_FRAMES` callee frames per call may be missing: the phone keeps sending
    /// while the agent's hang-up travels, and those frames have no one to hear them.
    pub fn clean(&self) -> bool {
        self.calls_with_gaps == 0
            && self.frames.queue_dropped == 0
            && self.frames.worker_dropped == 0
            && self.frames.in_flight <= (HANG_UP_FRAMES * self.calls) as i64
            && self.missing_echoes == 0
            && self.completed == self.calls
    }
}

/// The turns each callee takes (tokens are per call).
fn script(call: usize, barge_in: bool) -> (CalleeScript, Vec<String>) {
    let tokens: Vec<String> = (0..3).map(|t| format!("token-{}", call * 10 + t)).collect();
    let mut script = CalleeScript::answer_after(100);
    if barge_in {
        script = script.say(900, &format!("wait a moment {}", tokens[0]));
    } else {
        script = script.reply(300, &format!("my code is {}", tokens[0]));
    }
    let script = script
        .reply(300, &format!("and then {}", tokens[1]))
        .reply(300, &format!("one more {}", tokens[2]))
        .reply(300, "thanks goodbye")
        .hang_up_after(120_000);
    (script, tokens)
}

/// The worker's id for call `call` (passed as the stream's `callId` parameter, so the
/// worker's call events name it).
fn call_id(call: usize) -> String {
    format!("00000000-0000-4000-8000-{call:012}")
}

fn number(call: usize) -> String {
    format!("+1415{:07}", 2_000_000 + call)
}

impl VoiceBench {
    /// Runs the benchmark once.
    pub async fn run(&self) -> anyhow::Result<VoiceResult> {
        std::fs::create_dir_all(&self.work_dir)?;
        let providers = ProviderEmulator::start(
            ProviderConfig::instant()
                .with_stt_delay_ms(self.stt_delay_ms)
                .with_llm_latency_ms(self.llm_first_token_ms, 0)
                .with_tts_latency(self.tts_first_byte_ms, 0.0),
        )
        .await?;
        let twilio = Emulator::start(EmulatorConfig::unlimited()).await?;
        let assistant = self.work_dir.join("bench-assistant.json");
        std::fs::write(
            &assistant,
            serde_json::json!({
                "systemPrompt": "You are a benchmark agent.",
                "firstMessage": "Hello, this is the automated benchmark agent speaking.",
                "llm": {"provider": "openai", "model": "bench"},
                "stt": {"provider": "deepgram", "model": "nova-3"},
                "tts": {"provider": "elevenlabs", "voice": "bench", "model": null},
                "tools": {"endCall": true, "transferTo": null},
                "maxDurationSec": 300,
            })
            .to_string(),
        )?;
        let worker = self.start_worker(&providers, &assistant).await?;
        let client = reqwest::Client::new();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = memory_of(worker.pid)?;
        std::fs::write(format!("/proc/{}/clear_refs", worker.pid), "5").ok();

        let started = Instant::now();
        let gap = self
            .ramp
            .checked_div(self.calls.max(1) as u32)
            .unwrap_or_default();
        let media_url = worker.media_url();
        // Calls start on an absolute schedule and their REST requests overlap: awaiting
        // each request in turn stretched a 500-call ramp to half a minute, so the first
        // calls had ended before the last started.
        let mut creating = tokio::task::JoinSet::new();
        let mut expected = Vec::with_capacity(self.calls);
        for call in 0..self.calls {
            let twiml = format!(
                r#"<Response><Connect><Stream url="{media_url}"><Parameter name="callId" value="{}"/></Stream></Connect></Response>"#,
                call_id(call)
            );
            let (script, tokens) = script(call, call % 4 == 3);
            twilio.register_callee(&number(call), script);
            expected.push(tokens);
            tokio::time::sleep_until((started + gap * call as u32).into()).await;
            let request = client
                .post(twilio.calls_url())
                .basic_auth(twilio.account_sid(), Some(twilio.auth_token()))
                .form(&[
                    ("To", number(call)),
                    ("From", "+14155550100".to_string()),
                    ("Twiml", twiml),
                ]);
            creating.spawn(async move {
                let created: serde_json::Value = request.send().await?.json().await?;
                let sid = created["sid"].as_str().context("no call sid")?.to_string();
                anyhow::Ok((call, sid))
            });
        }
        let mut sids = vec![String::new(); self.calls];
        while let Some(created) = creating.join_next().await {
            let (call, sid) = created??;
            sids[call] = sid;
        }
        // The CPU window opens once every call is answered (all live).
        let answered_by = Instant::now() + Duration::from_secs(30);
        while Instant::now() < answered_by
            && !sids
                .iter()
                .all(|s| twilio.call(s).is_some_and(|r| r.answered_at.is_some()))
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Measure CPU while every call is live: after the ramp, for the next stretch.
        let cpu_window = Duration::from_secs(10);
        let (worker_cpu0, harness_cpu0) =
            (worker.cpu_seconds()?, cpu_seconds_of(std::process::id())?);
        let (worker_sched0, harness_sched0) =
            (schedstats_of(worker.pid), schedstats_of(std::process::id()));
        let window_start = Instant::now();
        let window_wall = chrono::Utc::now();
        tokio::time::sleep(cpu_window).await;
        let window = window_start.elapsed().as_secs_f64();
        let window_wall = (window_wall, chrono::Utc::now());
        let worker_cpu = (worker.cpu_seconds()? - worker_cpu0) / window;
        let harness_cpu = (cpu_seconds_of(std::process::id())? - harness_cpu0) / window;
        let worker_wait = busiest_thread_wait(&worker_sched0, &schedstats_of(worker.pid)) / window;
        let harness_wait =
            busiest_thread_wait(&harness_sched0, &schedstats_of(std::process::id())) / window;
        let peak = memory_of(worker.pid)?.peak_kib.max(idle.rss_kib);

        let deadline = Instant::now() + Duration::from_secs(180);
        let reports = wait_for_all(&twilio, &sids, deadline).await;
        let wall = started.elapsed().as_secs_f64();
        let metrics = client
            .get(format!("{}/metrics", worker.base_url))
            .send()
            .await?
            .text()
            .await?;
        let own_overhead = histogram_quantiles(&metrics, "agent_own_overhead_seconds");
        // The call events (with each turn's stage marks) are logged when a call ends.
        worker.kill().await.ok();
        // The STT emulator counts a session's audio for good when its socket closes,
        // which the worker's exit starts.
        let closing = Instant::now() + Duration::from_secs(5);
        while Instant::now() < closing && providers.report().stt.iter().any(|s| s.end.is_none()) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(self.work_dir.join("worker.log")).unwrap_or_default();
        let frames = FrameLedger::of(
            reports.iter().flatten().flat_map(|r| &r.streams),
            &log,
            &providers.report().stt,
        );
        let call_ids: Vec<String> = (0..self.calls).map(call_id).collect();
        let traced = stages::trace(
            &reports,
            &call_ids,
            &stages::worker_turns(&log),
            &providers.report().stt,
        );
        let mut result = self.measure(
            &reports,
            &expected,
            Measured {
                own_overhead,
                worker_cpu,
                harness_cpu,
                idle_kib: idle.rss_kib,
                peak_kib: peak,
                wall,
                window_wall,
            },
        );
        result.stages = traced;
        result.dropped_callee_frames = frames.lost();
        result.frames = frames;
        result.worker_runqueue_wait = worker_wait;
        result.harness_runqueue_wait = harness_wait;
        self.keep_failed_calls(&reports, &expected);
        Ok(result)
    }

    async fn start_worker(
        &self,
        providers: &ProviderEmulator,
        assistant: &std::path::Path,
    ) -> anyhow::Result<AgentWorker> {
        let key = "bench-key".to_string();
        let settings: Vec<(String, String)> = [
            ("AW__SERVER__THREADS", self.worker_threads.to_string()),
            ("AW__SERVER__MAX_CALLS", (self.calls + 10).to_string()),
            (
                "AW__PROVIDERS__DEEPGRAM__BASE_URL",
                providers.base_url().to_string(),
            ),
            ("AW__PROVIDERS__DEEPGRAM__API_KEY", key.clone()),
            (
                "AW__PROVIDERS__OPENAI__BASE_URL",
                providers.openai_base_url(),
            ),
            ("AW__PROVIDERS__OPENAI__API_KEY", key.clone()),
            (
                "AW__PROVIDERS__ELEVENLABS__BASE_URL",
                providers.base_url().to_string(),
            ),
            ("AW__PROVIDERS__ELEVENLABS__API_KEY", key),
            ("AW__RECORDING__ENABLED", "true".into()),
            // Only the call events, as JSON lines: they carry each turn's stage marks.
            ("LOG_FORMAT", "json".into()),
            (
                "RUST_LOG",
                "warn,agent_worker::pipeline::events=info".into(),
            ),
            (
                "AW__RECORDING__STORE_URL",
                format!("file://{}", self.work_dir.join("recordings").display()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let args = vec!["--standalone".to_string(), assistant.display().to_string()];
        let log = self.work_dir.join("worker.log");
        match self.worker_cpu {
            Some(cpu) => {
                AgentWorker::start_pinned(&self.worker_binary, cpu, &settings, &args, &log).await
            }
            None => AgentWorker::start(&self.worker_binary, &settings, &args, &log).await,
        }
    }

    /// Writes the reports of up to ten calls that missed an echo to `failed-calls.json`
    /// in the work directory, to read what their ears heard.
    fn keep_failed_calls(&self, reports: &[Option<CallReport>], expected: &[Vec<String>]) {
        let failed: Vec<&CallReport> = reports
            .iter()
            .zip(expected)
            .filter_map(|(report, tokens)| {
                let report = report.as_ref()?;
                let heard = report.heard_texts();
                tokens
                    .iter()
                    .any(|t| !heard.iter().any(|h| h.contains(t.as_str())))
                    .then_some(report)
            })
            .take(10)
            .collect();
        if let Ok(json) = serde_json::to_string_pretty(&failed) {
            std::fs::write(self.work_dir.join("failed-calls.json"), json).ok();
        }
    }

    fn measure(
        &self,
        reports: &[Option<CallReport>],
        expected: &[Vec<String>],
        m: Measured,
    ) -> VoiceResult {
        let mut result = VoiceResult {
            calls: self.calls,
            completed: 0,
            calls_with_gaps: 0,
            gaps: 0,
            dropped_callee_frames: 0,
            frames: FrameLedger::default(),
            missing_echoes: 0,
            undecodable: 0,
            turn_latency_ms: None,
            own_overhead_ms: None,
            barge_in_ms: None,
            worker_own_overhead_ms: m.own_overhead,
            worker_cpu_cores: m.worker_cpu,
            harness_cpu_cores: m.harness_cpu,
            worker_cpu_ms_per_call_second: 0.0,
            mean_live_calls: 0.0,
            worker_runqueue_wait: 0.0,
            harness_runqueue_wait: 0.0,
            memory_per_call_kib: m.peak_kib.saturating_sub(m.idle_kib) as f64
                / self.calls.max(1) as f64,
            worker_idle_rss_kib: m.idle_kib,
            worker_peak_rss_kib: m.peak_kib,
            wall_seconds: m.wall,
            stages: StageReport::default(),
        };
        let configured =
            (ENDPOINTING_MS + self.stt_delay_ms + self.llm_first_token_ms + self.tts_first_byte_ms)
                as f64;
        let (mut turns, mut overheads, mut barge_ins) = (Vec::new(), Vec::new(), Vec::new());
        for (report, tokens) in reports.iter().zip(expected) {
            let Some(report) = report else {
                continue;
            };
            if report.is_ended() {
                result.completed += 1;
            }
            if !report.underruns_ms.is_empty() {
                result.calls_with_gaps += 1;
                result.gaps += report.underruns_ms.len();
            }
            result.undecodable += report.heard.iter().filter(|h| h.text.is_none()).count();
            let heard = report.heard_texts();
            for token in tokens {
                if !heard.iter().any(|h| h.contains(token.as_str())) {
                    result.missing_echoes += 1;
                }
            }
            for said in report.said.iter().filter(|s| s.streamed) {
                let end = said.start_ms + utterance_ms(&said.text);
                let next = report.heard.iter().find(|h| h.start_ms >= end);
                if let Some(next) = next.filter(|h| h.start_ms < end + 10_000) {
                    let latency = (next.start_ms - end) as f64;
                    turns.push(latency);
                    overheads.push((latency - configured).max(0.0));
                }
            }
            barge_ins.extend(
                report
                    .barge_ins
                    .iter()
                    .filter_map(|b| b.latency_ms())
                    .map(|v| v as f64),
            );
        }
        let (from, to) = m.window_wall;
        let window = (to - from).num_microseconds().unwrap_or(1).max(1) as f64 / 1e6;
        let call_seconds: f64 = reports
            .iter()
            .flatten()
            .filter_map(|r| {
                let start = r.answered_at?.max(from);
                let end = r.ended_at.unwrap_or(to).min(to);
                Some((end - start).num_microseconds()?.max(0) as f64 / 1e6)
            })
            .sum();
        result.mean_live_calls = call_seconds / window;
        result.worker_cpu_ms_per_call_second =
            m.worker_cpu * window * 1000.0 / call_seconds.max(1e-9);
        result.turn_latency_ms = Percentiles::of(&turns);
        result.own_overhead_ms = Percentiles::of(&overheads);
        result.barge_in_ms = Percentiles::of(&barge_ins);
        result
    }
}

/// Callee frames per call that may be in flight when the agent hangs up.
pub const HANG_UP_FRAMES: usize = 2;

/// The STT endpointing the worker asks for by default: part of every turn by design.
const ENDPOINTING_MS: u64 = 300;

struct Measured {
    /// The CPU window on the wall clock (calls' answer and end times are on it).
    window_wall: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    own_overhead: Option<(f64, f64)>,
    worker_cpu: f64,
    harness_cpu: f64,
    idle_kib: u64,
    peak_kib: u64,
    wall: f64,
}

/// p50 and p99 (ms) of a Prometheus histogram in text format, as bucket upper bounds.
fn histogram_quantiles(text: &str, name: &str) -> Option<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    let buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let at = |q: f64| {
        buckets
            .iter()
            .find(|(_, count)| *count >= q * total)
            .map(|(le, _)| le * 1000.0)
    };
    Some((at(0.5)?, at(0.99)?))
}

/// Per thread of `pid`: nanoseconds on a CPU and ready but waiting for one
/// (`/proc/<pid>/task/*/schedstat`); empty where unavailable.
fn schedstats_of(pid: u32) -> std::collections::HashMap<String, (f64, f64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Default::default();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let mut fields = stat.split_whitespace().map(|f| f.parse::<f64>());
            let (run, wait) = (fields.next()?.ok()?, fields.next()?.ok()?);
            Some((task.file_name().to_string_lossy().into_owned(), (run, wait)))
        })
        .collect()
}

/// Seconds the busiest thread of a process (the most CPU between two snapshots: the
/// runtime's event loop) spent ready but waiting for a CPU between them. Other threads
/// (blocking pools on the same pinned core) would count their waits on each other.
fn busiest_thread_wait(
    before: &std::collections::HashMap<String, (f64, f64)>,
    after: &std::collections::HashMap<String, (f64, f64)>,
) -> f64 {
    after
        .iter()
        .map(|(tid, (run, wait))| {
            let (run0, wait0) = before.get(tid).copied().unwrap_or_default();
            (run - run0, wait - wait0)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(0.0, |(_, wait)| wait / 1e9)
}

/// How long an utterance of `text` lasts, in ms.
fn utterance_ms(text: &str) -> u64 {
    utterance_samples(text.len(), 8000) as u64 / 8
}

async fn wait_for_all(
    twilio: &EmulatorHandle,
    sids: &[String],
    deadline: Instant,
) -> Vec<Option<CallReport>> {
    loop {
        let reports: Vec<Option<CallReport>> = sids.iter().map(|s| twilio.call(s)).collect();
        let done = reports
            .iter()
            .all(|r| r.as_ref().is_some_and(|r| r.is_ended()));
        if done || Instant::now() >= deadline {
            return reports;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_cumulative_buckets() {
        let text = "# TYPE x histogram\nx_sum 1.0\nx_count 100\n\
            x_bucket{le=\"0.001\"} 40\nx_bucket{le=\"0.002\"} 90\n\
            x_bucket{le=\"0.005\"} 99\nx_bucket{le=\"+Inf\"} 100\n";
        assert_eq!(histogram_quantiles(text, "x"), Some((2.0, 5.0)));
        assert_eq!(histogram_quantiles("", "x"), None);
    }
}
