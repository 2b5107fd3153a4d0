//! The LiveKit calls-per-core benchmark: N concurrent `livekit_sip` calls against one
//! agent-worker process registered at a real livekit-server.
//!
//! The jobs come the way production's do: a call row in PostgreSQL and its call token, a
//! room named after the call and an agent dispatch with the control plane's metadata
//! (`{callId, token, controlPlaneUrl}`); the worker verifies the token, fetches the job
//! from the real control plane (in this process, engine off: there is no SIP leg to dial,
//! so nothing would drive the engine), joins the room and reports its events there. The
//! callee is not a SIP phone behind livekit-sip (transcoding hundreds of calls on the same
//! two cores would saturate first) but a WebRTC participant of ours, the worker's own room
//! participant as a library ([`super::livekit_callee`]), that looks to the worker exactly
//! like livekit-sip's answered participant. Opus, DTLS and SRTP run on both sides.
//!
//! Measured: gaps at the callee's ear, missing echoes, undecodable utterances, turn
//! latency and barge-in at the ear, worker CPU and memory per call, and the CPU of the
//! harness and of livekit-server (which share the other core).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use livekit_api::services::agent_dispatch::AgentDispatchClient;
use livekit_api::services::room::{CreateRoomOptions, RoomClient};
use livekit_protocol::CreateAgentDispatchRequest;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{json, Value};
use shared::token::CallTokens;
use sqlx::PgPool;
use uuid::Uuid;

use crate::bench::livekit_callee::{self, Answer, CalleeReport, CalleeScript};
use crate::bench::stats::Percentiles;
use crate::livekit::LiveKitServer;
use crate::process::{cpu_seconds_of, memory_of, AgentWorker};
use crate::providers::{ProviderConfig, ProviderEmulator};

const AGENT_NAME: &str = "bench-agent";
const WORKER_KEY: &str = "livekit-bench-worker-key-0123456789";
const TOKEN_SECRET: &str = "livekit-bench-call-token-secret-0123456789";
/// The pinned worker's niceness: its core is its own whenever it wants it.
const WORKER_NICE: i32 = -10;
/// How long one call may take, from its dispatch to the agent's goodbye.
const CALL_DEADLINE: Duration = Duration::from_secs(90);

/// What to run.
#[derive(Debug, Clone)]
pub struct LiveKitBench {
    pub calls: usize,
    pub worker_binary: PathBuf,
    /// CPU the worker is pinned to (`taskset`, at [`WORKER_NICE`]), if any. The harness
    /// and livekit-server are not pinned: they use what the worker leaves of its core and
    /// the other one (together they need more than one core from about 80 calls).
    pub worker_cpu: Option<usize>,
    /// Tokio worker threads in the agent worker.
    pub worker_threads: usize,
    /// Calls are started evenly over this long.
    pub ramp: Duration,
    /// The control plane's database (migrated).
    pub database_url: String,
    /// Where logs and recordings go.
    pub work_dir: PathBuf,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LiveKitResult {
    pub calls: usize,
    /// Callees that joined their room.
    pub joined: usize,
    /// Calls the agent ended (the room closed) after the conversation.
    pub completed: usize,
    pub calls_with_gaps: usize,
    pub gaps: usize,
    /// How late past their playout slot the gap frames arrived (ms).
    pub gap_late_ms: Option<Percentiles>,
    /// When in their call the gaps came (ms of the agent's audio received before them).
    pub gap_at_ms: Option<Percentiles>,
    /// Gaps that arrived within 100 ms of another call's gap: a stall every call saw at
    /// once (livekit-server, the harness or the worker stopping), not one call's.
    pub gaps_shared: usize,
    /// Tokens the callee said and never heard echoed (lost, wrong or undecodable).
    pub missing_echoes: usize,
    /// Utterances at the callee's ear that did not decode.
    pub undecodable: usize,
    /// End of callee speech to the agent's reply arriving at the callee (ms).
    pub turn_latency_ms: Option<Percentiles>,
    /// Callee speech start to the agent's audio stopping at the callee (ms).
    pub barge_in_ms: Option<Percentiles>,
    /// Worker CPU over the window with every call live, in cores.
    pub worker_cpu_cores: f64,
    /// This process (callees, control plane, provider emulators) over the same window.
    pub harness_cpu_cores: f64,
    /// How late the harness's runtime woke a 5 ms timer over the whole run (ms): a late
    /// wake-up delays every callee's reading of its socket, so a frame it times late may
    /// have arrived on time.
    pub harness_lag_ms: Option<Percentiles>,
    /// The worker's send clocks (from its log): frames sent late to catch up after a
    /// short stall, and 20 ms ticks skipped by longer ones (each a gap at the ear).
    pub worker_frames_caught_up: u64,
    pub worker_ticks_skipped: u64,
    /// Callee packets the worker received right after a lost one.
    pub worker_packets_after_loss: u64,
    /// livekit-server (and its Redis) over the same window.
    pub livekit_server_cpu_cores: f64,
    pub worker_cpu_ms_per_call_second: f64,
    /// (peak RSS - idle RSS) / calls, KiB.
    pub memory_per_call_kib: f64,
    pub worker_idle_rss_kib: u64,
    pub worker_peak_rss_kib: u64,
    pub wall_seconds: f64,
    /// The first few callee errors, if any.
    pub errors: Vec<String>,
}

impl LiveKitResult {
    /// No gap at any ear, every echo heard, every call completed.
    pub fn clean(&self) -> bool {
        self.completed == self.calls && self.calls_with_gaps == 0 && self.missing_echoes == 0
    }
}

impl LiveKitBench {
    /// Runs the benchmark once, on a fresh livekit-server, control plane and worker.
    pub async fn run(&self) -> anyhow::Result<LiveKitResult> {
        std::fs::create_dir_all(&self.work_dir)?;
        let providers = ProviderEmulator::start(ProviderConfig::instant()).await?;
        let db = PgPool::connect(&self.database_url)
            .await
            .context("connecting to DATABASE_URL")?;
        control_plane::app::MIGRATOR.run(&db).await?;
        let (base, stop_control_plane) = control_plane(&db).await?;
        let (org, assistant) = organization(&base).await?;
        let livekit = LiveKitServer::start().await?;
        let worker = self.start_worker(&base, &livekit, &providers).await?;
        // The worker registers at livekit-server right after it is healthy.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let idle = memory_of(worker.pid)?;
        std::fs::write(format!("/proc/{}/clear_refs", worker.pid), "5").ok();

        let rooms = Arc::new(RoomClient::with_api_key(
            &livekit.url,
            &livekit.api_key,
            &livekit.api_secret,
        ));
        let dispatch =
            AgentDispatchClient::with_api_key(&livekit.url, &livekit.api_key, &livekit.api_secret);
        let tokens = CallTokens::new(TOKEN_SECRET.as_bytes());
        let started = Instant::now();
        let (stop_probe, probe_stopped) = tokio::sync::oneshot::channel();
        let lag_probe = tokio::spawn(runtime_lag(probe_stopped));
        let gap = self
            .ramp
            .checked_div(self.calls.max(1) as u32)
            .unwrap_or_default();
        let mut callees = Vec::with_capacity(self.calls);
        for call in 0..self.calls {
            let call_id = insert_call(&db, org, assistant, call).await?;
            let room = control_plane::dialer::livekit::room_name(call_id);
            let expires = chrono::Utc::now().timestamp() + 3600;
            let metadata = json!({"callId": call_id, "token": tokens.mint(call_id, org, expires),
                                  "controlPlaneUrl": base});
            rooms
                .create_room(&room, CreateRoomOptions::default())
                .await
                .context("CreateRoom")?;
            dispatch
                .create_dispatch(CreateAgentDispatchRequest {
                    agent_name: AGENT_NAME.into(),
                    room: room.clone(),
                    metadata: metadata.to_string(),
                    ..Default::default()
                })
                .await
                .context("CreateDispatch")?;
            let token = livekit_callee::callee_token(&livekit.api_key, &livekit.api_secret, &room)?;
            let url = livekit.url.clone();
            let script = CalleeScript::for_call(call, barges_in(call));
            let answer = Answer {
                rooms: rooms.clone(),
                room: room.clone(),
            };
            callees.push(tokio::spawn(async move {
                livekit_callee::run(&url, &token, script, CALL_DEADLINE, answer).await
            }));
            tokio::time::sleep(gap).await;
        }
        // CPU while every call is live: after the ramp, for the next stretch.
        let window = Duration::from_secs(10);
        let me = std::process::id();
        let cpu0 = (
            worker.cpu_seconds()?,
            cpu_seconds_of(me)?,
            children_cpu_seconds(me, worker.pid),
        );
        let window_start = Instant::now();
        tokio::time::sleep(window).await;
        let seconds = window_start.elapsed().as_secs_f64();
        let worker_cpu = (worker.cpu_seconds()? - cpu0.0) / seconds;
        let harness_cpu = (cpu_seconds_of(me)? - cpu0.1) / seconds;
        let livekit_cpu = (children_cpu_seconds(me, worker.pid) - cpu0.2) / seconds;
        let peak = memory_of(worker.pid)?.peak_kib.max(idle.rss_kib);

        let mut reports = Vec::with_capacity(callees.len());
        for callee in callees {
            reports.push(callee.await.unwrap_or_else(|e| CalleeReport {
                error: Some(format!("the callee task failed: {e}")),
                ..CalleeReport::default()
            }));
        }
        let wall = started.elapsed().as_secs_f64();
        write_calls(&self.work_dir.join("calls.txt"), &reports);
        let _ = stop_probe.send(());
        let lags = lag_probe.await.unwrap_or_default();
        worker.kill().await.ok();
        let [caught_up, skipped, after_loss] = room_totals(&self.work_dir.join("worker.log"));
        let _ = stop_control_plane.send(());
        Ok(self.measure(
            &reports,
            Measured {
                worker_cpu,
                harness_cpu,
                livekit_cpu,
                idle_kib: idle.rss_kib,
                peak_kib: peak,
                wall,
                lags,
                caught_up,
                skipped,
                after_loss,
            },
        ))
    }

    async fn start_worker(
        &self,
        control_plane: &str,
        livekit: &LiveKitServer,
        providers: &ProviderEmulator,
    ) -> anyhow::Result<AgentWorker> {
        let key = "bench-key".to_string();
        let settings: Vec<(String, String)> = [
            ("AW__SERVER__THREADS", self.worker_threads.to_string()),
            ("AW__SERVER__MAX_CALLS", (self.calls + 10).to_string()),
            ("AW__CONTROL_PLANE__URL", control_plane.to_string()),
            ("AW__CONTROL_PLANE__API_KEY", WORKER_KEY.into()),
            ("AW__CONTROL_PLANE__TOKEN_SECRET", TOKEN_SECRET.into()),
            ("AW__LIVEKIT__URL", livekit.url.clone()),
            ("AW__LIVEKIT__API_KEY", livekit.api_key.clone()),
            ("AW__LIVEKIT__API_SECRET", livekit.api_secret.clone()),
            ("AW__LIVEKIT__AGENT_NAME", AGENT_NAME.into()),
            ("AW__LIVEKIT__MAX_JOBS", (self.calls + 10).to_string()),
            (
                "AW__PROVIDERS__DEEPGRAM__BASE_URL",
                providers.base_url().into(),
            ),
            ("AW__PROVIDERS__DEEPGRAM__API_KEY", key.clone()),
            (
                "AW__PROVIDERS__OPENAI__BASE_URL",
                providers.openai_base_url(),
            ),
            ("AW__PROVIDERS__OPENAI__API_KEY", key.clone()),
            (
                "AW__PROVIDERS__ELEVENLABS__BASE_URL",
                providers.base_url().into(),
            ),
            ("AW__PROVIDERS__ELEVENLABS__API_KEY", key),
            ("AW__RECORDING__ENABLED", "true".into()),
            // The room task's debug lines carry its send-clock totals.
            (
                "RUST_LOG",
                "warn,agent_worker::transport::livekit::room::task=debug".into(),
            ),
            (
                "AW__RECORDING__STORE_URL",
                format!("file://{}", self.work_dir.join("recordings").display()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let log = self.work_dir.join("worker.log");
        // The log is appended to; this run's send-clock totals must be this run's alone.
        std::fs::remove_file(&log).ok();
        match self.worker_cpu {
            Some(cpu) => {
                AgentWorker::start_pinned_nice(
                    &self.worker_binary,
                    cpu,
                    WORKER_NICE,
                    &settings,
                    &[],
                    &log,
                )
                .await
            }
            None => AgentWorker::start(&self.worker_binary, &settings, &[], &log).await,
        }
    }

    fn measure(&self, reports: &[CalleeReport], m: Measured) -> LiveKitResult {
        let calls = self.calls.max(1) as f64;
        let (mut turns, mut barge_ins) = (Vec::new(), Vec::new());
        let (mut late, mut at) = (Vec::new(), Vec::new());
        let mut result = LiveKitResult {
            calls: self.calls,
            joined: 0,
            completed: 0,
            calls_with_gaps: 0,
            gaps: 0,
            gap_late_ms: None,
            gap_at_ms: None,
            gaps_shared: 0,
            missing_echoes: 0,
            undecodable: 0,
            turn_latency_ms: None,
            barge_in_ms: None,
            worker_cpu_cores: m.worker_cpu,
            harness_cpu_cores: m.harness_cpu,
            harness_lag_ms: Percentiles::of(&m.lags),
            worker_frames_caught_up: m.caught_up,
            worker_ticks_skipped: m.skipped,
            worker_packets_after_loss: m.after_loss,
            livekit_server_cpu_cores: m.livekit_cpu,
            worker_cpu_ms_per_call_second: m.worker_cpu * 1000.0 / calls,
            memory_per_call_kib: m.peak_kib.saturating_sub(m.idle_kib) as f64 / calls,
            worker_idle_rss_kib: m.idle_kib,
            worker_peak_rss_kib: m.peak_kib,
            wall_seconds: m.wall,
            errors: Vec::new(),
        };
        for report in reports {
            result.joined += usize::from(report.joined);
            // Completed: the agent ended the call after the callee's goodbye was answered.
            result.completed += usize::from(report.ended && report.heard.len() >= 3);
            if report.gaps > 0 {
                result.calls_with_gaps += 1;
                result.gaps += report.gaps;
            }
            result.missing_echoes += report.missing_tokens;
            result.undecodable += report.undecodable;
            late.extend(&report.gap_late_ms);
            at.extend(&report.gap_at_ms);
            turns.extend(&report.turn_latencies_ms);
            barge_ins.extend(report.barge_in_ms);
            if let Some(error) = &report.error {
                if result.errors.len() < 5 {
                    result.errors.push(error.clone());
                }
            }
        }
        result.gaps_shared = shared_gaps(reports);
        result.gap_late_ms = Percentiles::of(&late);
        result.gap_at_ms = Percentiles::of(&at);
        result.turn_latency_ms = Percentiles::of(&turns);
        result.barge_in_ms = Percentiles::of(&barge_ins);
        result
    }
}

struct Measured {
    worker_cpu: f64,
    harness_cpu: f64,
    livekit_cpu: f64,
    idle_kib: u64,
    peak_kib: u64,
    wall: f64,
    lags: Vec<f64>,
    caught_up: u64,
    skipped: u64,
    after_loss: u64,
}

/// Every fourth callee talks over the agent's first message.
fn barges_in(call: usize) -> bool {
    call % 4 == 3
}

/// One line per call (what it heard, what it missed, its gaps), for finding which calls
/// a run's missed echoes and gaps belong to.
fn write_calls(path: &std::path::Path, reports: &[CalleeReport]) {
    let lines: Vec<String> = reports
        .iter()
        .enumerate()
        .map(|(call, r)| {
            format!(
                "call {call}{}: ended {}, heard {:?}, missing tokens {}, undecodable {}, gaps {} \
                 at {:?} ms, frames {}{}",
                if barges_in(call) { " (barge-in)" } else { "" },
                r.ended,
                r.heard,
                r.missing_tokens,
                r.undecodable,
                r.gaps,
                r.gap_at_ms,
                r.frames_in,
                r.error
                    .as_deref()
                    .map(|e| format!(", error: {e}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").ok();
}

/// Gaps that came within [`SHARED`] of a gap of another call.
fn shared_gaps(reports: &[CalleeReport]) -> usize {
    let mut arrivals: Vec<(Instant, usize)> = reports
        .iter()
        .enumerate()
        .flat_map(|(call, r)| r.gap_arrivals.iter().map(move |&at| (at, call)))
        .collect();
    arrivals.sort();
    (0..arrivals.len())
        .filter(|&i| {
            let (at, call) = arrivals[i];
            let near = |j: &usize| {
                let (other, other_call) = arrivals[*j];
                other_call != call
                    && (other.saturating_duration_since(at) <= SHARED
                        && at.saturating_duration_since(other) <= SHARED)
            };
            (i.saturating_sub(200)..(i + 200).min(arrivals.len())).any(|j| near(&j))
        })
        .count()
}

/// Two calls' gaps this close are one stall.
const SHARED: Duration = Duration::from_millis(100);

/// The probe's timer period.
const PROBE: Duration = Duration::from_millis(5);

/// How late this runtime wakes a [`PROBE`] timer (ms), each time, until `stop` fires.
async fn runtime_lag(mut stop: tokio::sync::oneshot::Receiver<()>) -> Vec<f64> {
    let mut lags = Vec::new();
    loop {
        let asked = tokio::time::Instant::now() + PROBE;
        tokio::select! {
            _ = &mut stop => return lags,
            _ = tokio::time::sleep_until(asked) => {
                let late = tokio::time::Instant::now().saturating_duration_since(asked);
                lags.push(late.as_secs_f64() * 1000.0);
            }
        }
    }
}

/// The worker's totals over its rooms, from the debug line each room logs as it ends:
/// frames its send clock caught up, ticks it skipped, callee packets after a loss.
fn room_totals(log: &std::path::Path) -> [u64; 3] {
    let Ok(text) = std::fs::read_to_string(log) else {
        return [0; 3];
    };
    let field = |line: &str, name: &str| -> u64 {
        line.split_once(&format!("{name}="))
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    text.lines()
        .filter(|line| line.contains("left the LiveKit room"))
        .map(strip_ansi)
        .fold([0; 3], |[c, s, l], line| {
            [
                c + field(&line, "caught_up"),
                s + field(&line, "skipped"),
                l + field(&line, "after_loss"),
            ]
        })
}

/// `line` without its terminal colour codes (the log's fields are coloured).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The control plane in this process (engine off) on a free port; returns its base URL
/// and a switch that stops it.
async fn control_plane(db: &PgPool) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    use control_plane::config::Settings;
    let mut s = Settings::defaults("postgres://unused: the pool is handed in")?;
    let port = crate::process::free_port()?;
    s.server.port = port;
    s.server.public_url = format!("http://127.0.0.1:{port}");
    s.server.shutdown_grace_sec = 1;
    s.database.migrate = false;
    s.engine.enabled = false;
    s.workers.api_key = SecretString::from(WORKER_KEY);
    s.workers.token_secret = SecretString::from(TOKEN_SECRET);
    let app = control_plane::app::Application::build_with_pool(s, db.clone()).await?;
    let base = format!("http://{}", app.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Ok((base, stop))
}

/// A new organization with the benchmark's assistant, through the API; (org, assistant).
async fn organization(base: &str) -> anyhow::Result<(Uuid, Uuid)> {
    let http = reqwest::Client::new();
    let email = format!(
        "bench-{}@livekit-bench.example.com",
        Uuid::new_v4().simple()
    );
    let body: Value = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": email, "password": "bench-password-0123",
                      "organizationName": "LiveKit bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let org = body["organization"]["id"]
        .as_str()
        .context("no organization id")?
        .parse()?;
    let session = body["token"].as_str().context("no session token")?;
    let assistant: Value = http
        .post(format!("{base}/api/v1/assistants"))
        .bearer_auth(session)
        .json(
            &json!({"name": "Bench", "systemPrompt": "You are a benchmark agent.",
                      "firstMessage": "Hello, this is the automated benchmark agent speaking."}),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let assistant = assistant["id"]
        .as_str()
        .context("no assistant id")?
        .parse()?;
    Ok((org, assistant))
}

/// A `livekit_sip` call row, as the dialer leaves it before the dispatch.
async fn insert_call(db: &PgPool, org: Uuid, assistant: Uuid, call: usize) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into calls (id, org_id, assistant_id, assistant_version, mode, to_phone, variables)
         values ($1, $2, $3, 1, 'livekit_sip', $4, '{}')",
    )
    .bind(id)
    .bind(org)
    .bind(assistant)
    .bind(format!("+1415{:07}", 3_000_000 + call))
    .execute(db)
    .await?;
    Ok(id)
}

/// CPU seconds of this process's children but `except` (livekit-server and its Redis).
fn children_cpu_seconds(parent: u32, except: u32) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != except && parent_of(pid) == Some(parent))
        .filter_map(|pid| cpu_seconds_of(pid).ok())
        .sum()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(") ")?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps_at(at: &[Instant]) -> CalleeReport {
        CalleeReport {
            gap_arrivals: at.to_vec(),
            ..CalleeReport::default()
        }
    }

    #[test]
    fn gaps_of_two_calls_close_together_are_shared_and_a_lone_one_is_not() {
        let start = Instant::now();
        let ms = |n: u64| start + Duration::from_millis(n);
        let reports = [
            gaps_at(&[ms(1000), ms(5000)]),
            gaps_at(&[ms(1050)]),
            // The same call twice is not a shared stall.
            gaps_at(&[ms(9000), ms(9010)]),
        ];
        assert_eq!(shared_gaps(&reports), 2);
    }

    #[test]
    fn the_room_totals_are_read_from_the_coloured_log() {
        let dir = std::env::temp_dir().join(format!("lk-totals-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("worker.log");
        let line = |c: u64, s: u64, l: u64| {
            format!(
                "2026-12-07T14:19:39Z \u{1b}[34mDEBUG\u{1b}[0m room: left the LiveKit room \
                 \u{1b}[3mend\u{1b}[0m\u{1b}[2m=\u{1b}[0mClosed \u{1b}[3mcaught_up\u{1b}[0m\
                 \u{1b}[2m=\u{1b}[0m{c} \u{1b}[3mskipped\u{1b}[0m\u{1b}[2m=\u{1b}[0m{s} \
                 \u{1b}[3mafter_loss\u{1b}[0m\u{1b}[2m=\u{1b}[0m{l}\n"
            )
        };
        let text = format!(
            "{}an unrelated line caught_up=100\n{}",
            line(3, 1, 0),
            line(4, 0, 7)
        );
        std::fs::write(&log, text).unwrap();
        assert_eq!(room_totals(&log), [7, 1, 7]);
        std::fs::remove_dir_all(dir).ok();
    }
}
