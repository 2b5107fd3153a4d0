//! One call's conversation, run as a single task: one `select!` over the callee's media,
//! the STT events, the LLM and TTS streams of the reply in progress, the pacer's clock and
//! the call's timers. Nothing here waits on a provider inline, so a barge-in is noticed
//! within a frame whatever the providers are doing.
//!
//! `callee.rs` handles what comes in (audio, VAD, transcripts, barge-in), `agent.rs` the
//! replies (LLM, clauses, TTS, tools, playout), `ending.rs` timers, ending and the final
//! reports, `supervised.rs` what a supervisor asks.

mod agent;
mod callee;
mod ending;
mod supervised;

use super::config::PipelineConfig;
use super::events::CallEvents;
use super::latency::{CallLatency, TurnClock};
use super::phrases::{PhraseCache, PhraseKey};
use super::reply::Reply;
use super::turn::CalleeTurn;
use crate::audio::pacer::Pacer;
use crate::audio::recording::CallRecorder;
use crate::audio::vad::SpeechDetector;
use crate::metrics::WorkerMetrics;
use crate::providers::cost::{Rates, UsageMeter};
use crate::providers::{
    ChatMessage, Llm, LlmEvent, ProviderError, Stt, SttInput, SttOptions, ToolCall, Tts, TtsStream,
};
use crate::transport::{Inbound, Transport};
use futures::stream::BoxStream;
use futures::StreamExt;
use shared::job::CallJob;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Everything a session needs, gathered by the transport's entry point.
pub struct SessionParts {
    pub job: CallJob,
    pub config: Arc<PipelineConfig>,
    pub stt: Arc<dyn Stt>,
    pub llm: Arc<dyn Llm>,
    pub tts: Arc<dyn Tts>,
    pub usage: UsageMeter,
    pub rates: Arc<Rates>,
    pub phrases: PhraseCache,
    pub metrics: WorkerMetrics,
    pub events: Box<dyn CallEvents>,
    pub recorder: Option<CallRecorder>,
    pub worker_id: String,
}

type LlmStream = BoxStream<'static, Result<LlmEvent, ProviderError>>;

/// A clause waiting for synthesis; phrases carry their cache key.
#[derive(Debug, Clone)]
struct PendingClause {
    text: String,
    cache: Option<PhraseKey>,
}

/// What to do once the reply in progress has been heard.
#[derive(Debug, Clone, PartialEq)]
enum AfterReply {
    Listen,
    End(String),
    Transfer(String),
}

/// The reply being generated and played.
struct Speaking {
    reply: Reply,
    /// Clauses waiting for TTS.
    queue: VecDeque<PendingClause>,
    splitter: super::clauses::ClauseSplitter,
    /// The model has finished (or this reply has no model behind it).
    generated: bool,
    /// Tool calls of this reply and their results, for the history.
    tool_calls: Vec<ToolCall>,
    tool_results: Vec<(String, String)>,
    /// Model rounds so far (a tool-only answer asks again).
    round: u32,
    /// Text the model produced in the current round.
    round_text: bool,
    after: AfterReply,
    /// The clause being synthesised: its cache key and the audio so far (if cacheable).
    synth_cache: Option<(PhraseKey, Vec<u8>)>,
    /// When the agent started to be heard (call clock), for the transcript.
    started_ms: Option<i64>,
    /// This reply answers the callee (it has a turn clock), not a fixed phrase.
    is_turn: bool,
}

/// A pause for possible backchannel: the agent's audio was cleared when the callee
/// started speaking.
#[derive(Debug, Clone, Copy)]
struct Pause {
    /// When to decide whether to resume (set when the callee stops).
    decide_at: Option<Instant>,
    /// Words the callee had said before the pause (to count only new ones).
    words_before: usize,
}

/// The state of one call.
struct Session {
    job: CallJob,
    config: Arc<PipelineConfig>,
    llm: Arc<dyn Llm>,
    tts: Arc<dyn Tts>,
    usage: UsageMeter,
    rates: Arc<Rates>,
    phrases: PhraseCache,
    metrics: WorkerMetrics,
    events: Box<dyn CallEvents>,
    recorder: Option<CallRecorder>,
    started: Instant,
    history: Vec<ChatMessage>,
    tools: Vec<crate::providers::ToolSpec>,
    vad: SpeechDetector,
    /// The VAD says the callee is speaking.
    callee_speaking: bool,
    /// When the current callee speech started.
    speech_onset: Option<Instant>,
    stt_input: Option<mpsc::Sender<SttInput>>,
    /// Frames the STT input channel could not take.
    stt_dropped: u64,
    /// Callee audio not yet handed to the STT session (sent in 100 ms inputs).
    stt_batch: bytes::BytesMut,
    /// Whether the VAD heard speech in the batched audio.
    stt_batch_speech: bool,
    /// Callee audio per STT input (`pipeline.stt_chunk_ms`, whole frames).
    stt_chunk_bytes: usize,
    callee: CalleeTurn,
    /// Frames of callee audio received (the inbound media clock).
    callee_frames: u64,
    speaking: Option<Speaking>,
    pause: Option<Pause>,
    pacer: Pacer,
    /// Agent audio frames per transport message (the pacer sends that many at once).
    frames_per_message: usize,
    next_reply_id: u64,
    turn_clock: TurnClock,
    latency: CallLatency,
    silence_deadline: Option<Instant>,
    reprompts: u32,
    /// Still listening for a voicemail greeting (until the callee's first real turn).
    detecting_voicemail: bool,
    /// A greeting was heard: wait for it (and the beep) to end, then leave the message.
    voicemail_pending: bool,
    /// Why the call is ending; set once.
    ending: Option<String>,
    /// When ending started, to cap the goodbye's playout.
    ending_since: Option<Instant>,
    max_duration_at: Instant,
    next_budget_check: Instant,
    /// When the event being handled was received (a turn's end is timed from it).
    event_at: Instant,
    /// Events queued by code that cannot await; sent at the end of each step.
    pending_reports: Vec<shared::events::EventKind>,
    /// Drop the LLM and TTS streams at the next step (set by code that cannot reach them).
    cancel_streams: bool,
    /// A supervisor has taken the call over: the agent stays silent (`supervised.rs`).
    taken_over: bool,
    /// When the supervisor's voice last carried speech during the take-over.
    supervisor_spoke_at: Option<Instant>,
}

/// Runs the conversation until the call ends; returns why it ended.
pub async fn run(parts: SessionParts, transport: &mut dyn Transport) -> String {
    let SessionParts {
        job,
        config,
        stt,
        llm,
        tts,
        usage,
        rates,
        phrases,
        metrics,
        mut events,
        recorder,
        worker_id,
    } = parts;
    let started = Instant::now();
    events
        .report(0, shared::events::EventKind::Connected { worker_id })
        .await;
    let max_duration = Duration::from_secs(job.limits.max_duration_sec.max(1) as u64);
    let mut history = vec![ChatMessage::System(job.system_prompt.clone())];
    history.reserve(16);
    let tools = super::tools::specs(&job);
    let mut session = Session {
        vad: SpeechDetector::new(&config.vad),
        pacer: Pacer::new(Duration::from_millis(config.pacer_lead_ms)),
        frames_per_message: ((config.media_message_ms / crate::audio::FRAME_MS) as usize)
            .clamp(1, transport.max_frames_per_message().max(1)),
        stt_chunk_bytes: (config.stt_chunk_ms / crate::audio::FRAME_MS).max(1) as usize
            * crate::audio::FRAME_SAMPLES,
        job,
        config,
        llm,
        tts,
        usage,
        rates,
        phrases,
        latency: CallLatency::new(metrics.clone()),
        metrics,
        events,
        recorder,
        started,
        history,
        tools,
        callee_speaking: false,
        speech_onset: None,
        stt_input: None,
        stt_dropped: 0,
        stt_batch: bytes::BytesMut::new(),
        stt_batch_speech: false,
        callee: CalleeTurn::default(),
        callee_frames: 0,
        speaking: None,
        pause: None,
        next_reply_id: 1,
        turn_clock: TurnClock::default(),
        silence_deadline: None,
        reprompts: 0,
        detecting_voicemail: true,
        voicemail_pending: false,
        ending: None,
        ending_since: None,
        max_duration_at: started + max_duration,
        next_budget_check: started + Duration::from_secs(1),
        pending_reports: Vec::new(),
        event_at: started,
        cancel_streams: false,
        taken_over: false,
        supervisor_spoke_at: None,
    };
    session.metrics.active_calls.inc();
    let options = SttOptions {
        model: session.job.stt.model.clone(),
        language: session.job.language.clone(),
        endpointing_ms: session.config.stt_endpointing_ms,
    };
    let mut stt_events = match stt.open(&options).await {
        Ok(stt_session) => {
            session.stt_input = Some(stt_session.audio);
            Some(stt_session.events)
        }
        Err(error) => {
            tracing::warn!(%error, "no speech recognition for this call");
            session.fail("stt_failed");
            None
        }
    };
    session.prewarm_phrases();
    if session.ending.is_none() {
        session.speak_first_message();
    }
    let mut llm_stream: Option<LlmStream> = None;
    let mut tts_stream: Option<TtsStream> = None;
    // Two long-lived timers, re-armed only when their deadline changes: a fresh `sleep`
    // per loop turn (one per callee frame) would register and cancel a timer each time.
    let mut pace = Deadline::new();
    let mut timer = Deadline::new();
    let reason = loop {
        let now = Instant::now();
        session
            .drive(transport, &mut llm_stream, &mut tts_stream, now)
            .await;
        if let Some(reason) = session.finished(now) {
            transport.hang_up().await;
            break reason;
        }
        pace.arm(session.pace_deadline(now));
        timer.arm(session.next_timer());
        let want_tts = session.wants_audio();
        tokio::select! {
            biased;
            inbound = transport.recv() => match inbound {
                Some(Inbound::Audio(frame)) => session.on_callee_audio(&frame, transport, &mut llm_stream, &mut tts_stream).await,
                Some(Inbound::Mark(name)) => session.on_mark(&name),
                Some(Inbound::Dtmf(digit)) => session.on_dtmf(digit),
                Some(Inbound::Supervisor(input)) => session.on_supervisor(input, transport, &mut llm_stream, &mut tts_stream).await,
                None => break session.ending.clone().unwrap_or_else(|| "callee_hung_up".into()),
            },
            event = next_or_pending(&mut stt_events) => match event {
                Some(Ok(event)) => session.on_stt(event, transport, &mut llm_stream, &mut tts_stream).await,
                Some(Err(error)) => {
                    tracing::warn!(%error, "speech recognition failed mid-call");
                    stt_events = None;
                    session.fail("stt_failed");
                }
                None => {
                    stt_events = None;
                    if session.ending.is_none() {
                        session.fail("stt_failed");
                    }
                }
            },
            event = next_or_pending(&mut llm_stream) => session.on_llm(event, &mut llm_stream),
            chunk = next_or_pending(&mut tts_stream), if want_tts => session.on_tts(chunk, &mut tts_stream),
            () = pace.elapsed() => {}
            () = timer.elapsed() => session.on_timers(transport, &mut llm_stream, &mut tts_stream).await,
        }
    };
    drop(llm_stream);
    drop(tts_stream);
    session.end(reason.clone()).await;
    reason
}

/// The next item of an optional stream; pending forever when there is none.
async fn next_or_pending<T>(stream: &mut Option<BoxStream<'static, T>>) -> Option<T> {
    match stream {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// A timer kept across loop turns: armed for a deadline (or none), re-registered with
/// the runtime only when the deadline changes.
struct Deadline {
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    at: Option<Instant>,
}

impl Deadline {
    fn new() -> Self {
        Deadline {
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            at: None,
        }
    }

    fn arm(&mut self, at: Option<Instant>) {
        if at != self.at {
            if let Some(at) = at {
                self.sleep.as_mut().reset(at.into());
            }
            self.at = at;
        }
    }

    /// Resolves once at the armed deadline (then it is disarmed); never when disarmed.
    async fn elapsed(&mut self) {
        if self.at.is_none() {
            return std::future::pending().await;
        }
        self.sleep.as_mut().await;
        self.at = None;
    }
}

impl Session {
    /// Milliseconds since the call's media started.
    fn at_ms(&self, now: Instant) -> i64 {
        now.saturating_duration_since(self.started).as_millis() as i64
    }

    async fn report(&mut self, kind: shared::events::EventKind) {
        let at = self.at_ms(Instant::now());
        self.events.report(at, kind).await;
    }

    /// The earliest of the call's timers.
    fn next_timer(&self) -> Option<Instant> {
        [
            self.silence_deadline,
            self.pause.and_then(|p| p.decide_at),
            Some(self.max_duration_at),
            Some(self.next_budget_check),
            self.ending_since.map(|t| t + ending::GOODBYE_CAP),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
