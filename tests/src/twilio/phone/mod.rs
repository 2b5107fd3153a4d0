//! The answered callee: one task ticking every 20 ms from the answer to the end of the
//! call. Each tick the mouth produces a frame (sent into the media stream, if one is
//! attached) and the ear plays a frame out of the playout buffer. Everything the ear and
//! mouth do lands in the call's report.

mod speaker;
mod voice;

use super::report::{BargeIn, ClearRecord, Heard, Said};
use super::script::CalleeScript;
use super::store::Shared;
use speaker::Speaker;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{interval, Duration, MissedTickBehavior};
pub(crate) use voice::voicemail_beep_end_ms;
use voice::{Voice, VoiceEvent};

/// A message for the attached media stream to send.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// 160 bytes of callee audio.
    Media(Vec<u8>),
    /// A pressed key.
    Dtmf(char),
    /// A mark whose audio has played (or was cleared).
    Mark { name: String, cleared: bool },
}

struct PhoneState {
    tick: u64,
    voice: Voice,
    speaker: Speaker,
    stream: Option<mpsc::Sender<Outbound>>,
    /// Everything that reached the ear, 160 bytes per tick.
    ear: Vec<u8>,
    last_agent_audio: Option<u64>,
    hang_up_at: Option<u64>,
    /// Index in the report's barge-ins of one still waiting for the agent to stop.
    open_barge_in: Option<usize>,
    /// Callee frames the stream's queue could not take (the stream task fell behind).
    queue_drops: u64,
    /// First tick of the current run of ticks with no agent audio.
    quiet_since: Option<u64>,
    hung_up: bool,
}

/// Handle to the answered callee.
#[derive(Clone)]
pub(crate) struct Phone {
    state: Arc<Mutex<PhoneState>>,
    gone: watch::Receiver<bool>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Phone {
    /// Answers: starts the phone clock.
    pub(crate) fn answer(shared: Arc<Shared>, sid: String, script: &CalleeScript) -> Phone {
        let state = Arc::new(Mutex::new(PhoneState {
            tick: 0,
            voice: Voice::new(script),
            speaker: Speaker::new(),
            stream: None,
            ear: Vec::new(),
            last_agent_audio: None,
            hang_up_at: script.hang_up_after_ms.map(|ms| ms / 20),
            open_barge_in: None,
            queue_drops: 0,
            quiet_since: None,
            hung_up: false,
        }));
        let (gone_tx, gone) = watch::channel(false);
        let ticker = state.clone();
        let task = tokio::spawn(async move {
            let mut clock = interval(Duration::from_millis(20));
            // A late tick is caught up at once: the phone clock must not drift from 8 kHz.
            clock.set_missed_tick_behavior(MissedTickBehavior::Burst);
            loop {
                let due = clock.tick().await;
                // A late tick (the harness was busy) first lets the other tasks run, the
                // media streams among them, so agent audio already in the socket reaches
                // the playout buffer before the catch-up plays: a real phone would have
                // had it in time, and playing the burst first heard our own lateness as
                // gaps in the agent's audio.
                if due.elapsed() >= LATE_TICK {
                    tokio::task::yield_now().await;
                }
                let hung_up = tick(&shared, &sid, &ticker);
                if hung_up {
                    gone_tx.send_replace(true);
                    break;
                }
            }
            // Keep `gone` readable after the loop: the sender lives as long as this task.
            std::future::pending::<()>().await;
        });
        Phone {
            state,
            gone,
            task: Arc::new(Mutex::new(Some(task))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PhoneState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves to true once the callee has hung up.
    pub(crate) fn gone(&self) -> watch::Receiver<bool> {
        self.gone.clone()
    }

    /// Phone clock in milliseconds.
    pub(crate) fn now_ms(&self) -> u64 {
        self.lock().tick * 20
    }

    /// A stream connects: callee audio goes to `tx` from now on, and a person starts their
    /// script.
    pub(crate) fn attach(&self, tx: mpsc::Sender<Outbound>) {
        let mut state = self.lock();
        state.stream = Some(tx);
        state.voice.start();
    }

    /// The stream ended: audio still buffered is lost, as on a real call.
    pub(crate) fn detach(&self) {
        let mut state = self.lock();
        state.stream = None;
        state.speaker.clear();
    }

    /// Callee frames dropped at the stream's full queue since the last call (the stream
    /// counts them into its report when it ends).
    pub(crate) fn take_queue_drops(&self) -> u64 {
        std::mem::take(&mut self.lock().queue_drops)
    }

    /// Agent audio to play.
    pub(crate) fn play(&self, bytes: &[u8]) {
        self.lock().speaker.enqueue(bytes);
    }

    /// An agent mark.
    pub(crate) fn mark(&self, name: String) {
        self.lock().speaker.mark(name);
    }

    /// An agent clear: returns the pending marks to echo at once and what was dropped.
    pub(crate) fn clear(&self) -> (Vec<String>, ClearRecord) {
        let mut state = self.lock();
        let (marks, dropped) = state.speaker.clear();
        let record = ClearRecord {
            at_ms: state.tick * 20,
            dropped_ms: dropped as u64 / 8,
        };
        (marks, record)
    }

    /// Everything that reached the ear so far, as 8 kHz PCM.
    pub(crate) fn ear_audio(&self) -> Vec<i16> {
        crate::audio::mulaw::decode(&self.lock().ear)
    }

    /// Stops the clock (the call ended).
    pub(crate) fn hang_up(&self) {
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            task.abort();
        }
        self.lock().stream = None;
    }
}

/// A tick this late yields to the other tasks before playing.
const LATE_TICK: Duration = Duration::from_millis(5);

/// Ticks without agent audio after which the agent has stopped talking (100 ms: longer
/// than the dips inside speech).
const QUIET_TICKS: u64 = 5;

/// One 20 ms tick; returns true when the callee hung up.
fn tick(shared: &Shared, sid: &str, phone: &Mutex<PhoneState>) -> bool {
    let mut state = phone.lock().unwrap_or_else(|e| e.into_inner());
    if state.hung_up {
        return true;
    }
    let now = state.tick;
    let now_ms = now * 20;
    // Speech has short dips (between syllables, up to 40 ms): the agent counts as talking
    // if heard within the last `QUIET_TICKS`, and as stopped only after that much quiet.
    let agent_was_talking = state
        .last_agent_audio
        .is_some_and(|last| now - last <= QUIET_TICKS);

    let last_agent = state.last_agent_audio;
    let (frame, voice_events) = state.voice.frame(now, last_agent);
    let playout = state.speaker.tick();
    state.ear.extend_from_slice(&playout.frame);
    if playout.audible {
        state.last_agent_audio = Some(now);
        state.quiet_since = None;
    } else {
        state.quiet_since.get_or_insert(now);
    }
    let streamed = state.stream.is_some();
    let mut queue_drops = 0;
    if let Some(stream) = &state.stream {
        // A full queue means the stream task is stuck; dropping the frame is what a real
        // network would do, and it is counted: a lost frame must have a place.
        if let Err(mpsc::error::TrySendError::Full(_)) =
            stream.try_send(Outbound::Media(frame.to_vec()))
        {
            queue_drops += 1;
        }
        for name in &playout.echoed {
            let _ = stream.try_send(Outbound::Mark {
                name: name.clone(),
                cleared: false,
            });
        }
        for event in &voice_events {
            if let VoiceEvent::Digit(d) = event {
                let _ = stream.try_send(Outbound::Dtmf(*d));
            }
        }
    }

    state.queue_drops += queue_drops;
    let mut hung_up = state.hang_up_at.is_some_and(|at| now >= at);
    let mut said = Vec::new();
    let mut timeline = Vec::new();
    for event in voice_events {
        match event {
            VoiceEvent::StartedSaying(text) => said.push(text),
            VoiceEvent::Beeped => timeline.push("callee beep".to_string()),
            VoiceEvent::Digit(d) => timeline.push(format!("callee pressed {d}")),
            VoiceEvent::HangUp => hung_up = true,
        }
    }
    // A barge-in closes once the agent has been quiet for `QUIET_TICKS`; it stopped on
    // the first quiet tick.
    let stopped_at = state
        .quiet_since
        .filter(|since| now + 1 - since >= QUIET_TICKS);
    let closed_barge_in = state.open_barge_in.filter(|_| stopped_at.is_some());
    if closed_barge_in.is_some() {
        state.open_barge_in = None;
    }
    let opens_barge_in = agent_was_talking && !said.is_empty() && state.open_barge_in.is_none();
    state.tick += 1;
    state.hung_up = hung_up;
    drop(state);

    let mut opened = None;
    // Most ticks change nothing in the report: skip the store's lock for them (this runs
    // for every call every 20 ms).
    let reportable = !playout.heard.is_empty()
        || playout.underrun
        || closed_barge_in.is_some()
        || !said.is_empty();
    if reportable {
        shared.update(sid, |report| {
            report.heard.extend(playout.heard.iter().cloned());
            if playout.underrun {
                report.underruns_ms.push(now_ms);
            }
            if let Some(b) = closed_barge_in.and_then(|i| report.barge_ins.get_mut(i)) {
                b.agent_stopped_ms = stopped_at.map(|tick| tick * 20);
            }
            for text in &said {
                report.said.push(Said {
                    text: text.clone(),
                    start_ms: now_ms,
                    streamed,
                });
            }
            if let Some(text) = said.first().filter(|_| opens_barge_in) {
                opened = Some(report.barge_ins.len());
                report.barge_ins.push(BargeIn {
                    text: text.clone(),
                    callee_started_ms: now_ms,
                    agent_stopped_ms: None,
                });
            }
        });
    }
    if opened.is_some() {
        phone
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .open_barge_in = opened;
    }
    for text in said {
        shared.event(sid, format!("callee says {text:?}"));
    }
    for what in timeline {
        shared.event(sid, what);
    }
    for heard in &playout.heard {
        log_heard(shared, sid, heard);
    }
    if hung_up {
        shared.event(sid, "callee hung up");
    }
    hung_up
}

fn log_heard(shared: &Shared, sid: &str, heard: &Heard) {
    match (&heard.text, &heard.error) {
        (Some(text), _) => shared.event(sid, format!("callee heard {text:?}")),
        (None, Some(error)) => shared.event(sid, format!("callee heard garbled audio ({error})")),
        _ => {}
    }
}
