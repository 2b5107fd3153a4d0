//! The LiveKit benchmark's callee: a participant that joins the call's room over WebRTC
//! (the worker's own pure-Rust room participant, used as a library: `/rtc` signalling,
//! str0m with DTLS-SRTP, Opus both ways) and holds the benchmark's conversation in test
//! speech code.
//!
//! It joins as livekit-sip's participants do: a token of kind `sip` whose attributes say
//! `sip.callStatus` = `ringing` (livekit-sip mints its participants' tokens the same way,
//! with the server's API key), and answers as livekit-sip does, by setting the attribute
//! to `active` through the server's API, once it is subscribed to the agent's track (a
//! phone behind livekit-sip is subscribed long before the answer). So the worker sees a SIP
//! callee answer and nothing in the product changes for the benchmark. (Joining already
//! `active` raced the agent's first message against the callee's subscription, and most
//! callees never heard it.)
//!
//! The ear: every 20 ms frame of the agent's track is timed on arrival. A receiver plays
//! frame `k` at `anchor + JITTER + 20 ms * k`; a frame arriving after its slot is a gap
//! (an audible underrun), after which the buffer re-anchors, as a jitter buffer does.
//! The frames also go through the speech-code decoder, so what the agent said is read
//! from the room's audio itself.
//!
//! The worker pauses its track while the agent is silent (after five frames of silence,
//! `AW__LIVEKIT__PAUSE_IN_SILENCE`), as WebRTC's DTX does. So a frame that comes late
//! after [`QUIET_BEFORE_PAUSE`] quiet frames starts a new talkspurt (the buffer re-anchors;
//! no gap: what was late was silence), and while the track is paused the ear is fed
//! silence on the callee's own 20 ms clock, as livekit-sip's mixer plays silence for it.

use std::time::{Duration, Instant};

use agent_worker::transport::livekit::room::Room;
use agent_worker::transport::{Inbound, Transport};
use std::sync::Arc;

use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_api::services::room::{RoomClient, UpdateParticipantOptions};

use crate::audio::mulaw;
use crate::speech_code::{self, DecodeEvent, Decoder};

/// The receiver's jitter buffer: a frame may arrive this late before it is a gap.
pub const JITTER: Duration = Duration::from_millis(60);
/// One frame of the pipeline's audio.
const FRAME: Duration = Duration::from_millis(20);
const FRAME_BYTES: usize = 160;
/// RMS above which a received frame carries the agent's voice.
const VOICE_RMS: f64 = 300.0;
/// Quiet frames in a row that mean the agent stopped (the speech code's syllable dips
/// are 40 ms, two frames).
const STOPPED_FRAMES: usize = 5;
/// Quiet frames in a row after which the worker's track may pause (it sends five frames
/// of silence before a pause, the first ones with the codec's decay of the last word; the
/// speech code's dips are two).
const QUIET_BEFORE_PAUSE: usize = 3;
/// The callee's pause after the agent went quiet before it replies.
const REPLY_PAUSE: Duration = Duration::from_millis(300);
/// A barge-in starts this long after the agent's first audible frame (inside the first
/// message, which lasts seconds in speech code).
const BARGE_IN_AFTER: Duration = Duration::from_millis(900);

/// What one callee says.
#[derive(Debug, Clone)]
pub struct CalleeScript {
    /// Said in order, each once the agent has said something new and gone quiet; the
    /// first one over the first message instead when `barge_in`.
    pub replies: Vec<String>,
    /// Tokens the callee must hear echoed back.
    pub tokens: Vec<String>,
    pub barge_in: bool,
}

impl CalleeScript {
    /// The benchmark's turns for call `call`: two tokens echoed, then goodbye.
    pub fn for_call(call: usize, barge_in: bool) -> Self {
        let tokens: Vec<String> = (0..2).map(|t| format!("token-{}", call * 10 + t)).collect();
        let first = if barge_in {
            format!("wait a moment {}", tokens[0])
        } else {
            format!("my code is {}", tokens[0])
        };
        Self {
            replies: vec![
                first,
                format!("and then {}", tokens[1]),
                "thanks goodbye".into(),
            ],
            tokens,
            barge_in,
        }
    }
}

/// What one callee measured.
#[derive(Debug, Clone, Default)]
pub struct CalleeReport {
    pub joined: bool,
    /// The agent ended the call (the room closed) before the deadline.
    pub ended: bool,
    pub heard: Vec<String>,
    /// Utterances that started at the ear and could not be read.
    pub undecodable: usize,
    /// Frames that arrived after their playout slot.
    pub gaps: usize,
    /// How late past its slot each such frame arrived (ms), and how far into the
    /// agent's stream (ms of audio received before it).
    pub gap_late_ms: Vec<f64>,
    pub gap_at_ms: Vec<f64>,
    /// When each such frame arrived, to tell a stall every call saw at once (the server
    /// or the harness) from one call's own.
    pub gap_arrivals: Vec<Instant>,
    pub frames_in: u64,
    /// End of each callee utterance to the agent's next audible frame (ms).
    pub turn_latencies_ms: Vec<f64>,
    /// Callee speech start to the agent's audio stopping (ms), for a barge-in.
    pub barge_in_ms: Option<f64>,
    /// Tokens it never heard echoed.
    pub missing_tokens: usize,
    pub error: Option<String>,
}

/// The callee's identity in its room.
const IDENTITY: &str = "callee";
const CALL_STATUS: &str = "sip.callStatus";

/// A client token for the callee: kind `sip`, ringing, as livekit-sip's participants.
pub fn callee_token(api_key: &str, api_secret: &str, room: &str) -> anyhow::Result<String> {
    Ok(AccessToken::with_api_key(api_key, api_secret)
        .with_identity(IDENTITY)
        .with_name("bench callee")
        .with_kind("sip")
        .with_attributes([(CALL_STATUS, "ringing")])
        .with_grants(VideoGrants {
            room_join: true,
            room: room.to_string(),
            can_publish: Some(true),
            can_subscribe: Some(true),
            ..VideoGrants::default()
        })
        .to_jwt()?)
}

/// How a callee answers: `sip.callStatus` = `active` on its participant, through the
/// server's API, as livekit-sip does.
pub struct Answer {
    pub rooms: Arc<RoomClient>,
    pub room: String,
}

impl Answer {
    async fn answer(self) -> Result<(), String> {
        let options = UpdateParticipantOptions {
            attributes: [(CALL_STATUS.to_string(), "active".to_string())].into(),
            ..UpdateParticipantOptions::default()
        };
        self.rooms
            .update_participant(&self.room, IDENTITY, options)
            .await
            .map(|_| ())
            .map_err(|e| format!("answering: {e}"))
    }
}

/// Joins `room` with `token`, answers once it is subscribed to the agent's track, and runs
/// `script` until the agent ends the call or `deadline` passes.
pub async fn run(
    url: &str,
    token: &str,
    script: CalleeScript,
    deadline: Duration,
    answer: Answer,
) -> CalleeReport {
    let mut report = CalleeReport::default();
    let mut room = match Room::join(url, token).await {
        Ok(room) => room,
        Err(error) => {
            report.error = Some(format!("joining: {error}"));
            report.missing_tokens = script.tokens.len();
            return report;
        }
    };
    report.joined = true;
    let Some(mut transport) = room.take_transport() else {
        report.error = Some("no transport".into());
        return report;
    };
    let mut callee = Callee::new(script);
    let mut answer = Some(answer);
    // The agent's track offered to us: the phone is answered. (Not its first packet: a
    // track paused in silence sends none until the agent speaks, after the answer.)
    let mut subscribed = room.remote_audio();
    let mut answering: Option<tokio::task::JoinHandle<Result<(), String>>> = None;
    let until = tokio::time::Instant::now() + deadline;
    let mut tick = tokio::time::interval(FRAME);
    let mut mouth: std::collections::VecDeque<Vec<u8>> = std::collections::VecDeque::new();
    loop {
        tokio::select! {
            inbound = transport.recv() => match inbound {
                Some(Inbound::Audio(frame)) => callee.on_frame(&frame, Instant::now()),
                Some(Inbound::Mark(name)) => callee.on_mark(&name, Instant::now()),
                // Keys and a supervisor's controls are not part of the bench's calls.
                Some(Inbound::Dtmf(_) | Inbound::Supervisor(_)) => {}
                None => {
                    report.ended = true;
                    break;
                }
            },
            offered = async { subscribed.wait_for(|on| *on).await.is_ok() }, if answer.is_some() => {
                // Not offered: the room is gone, nothing to answer.
                let answer = answer.take();
                if let (true, Some(answer)) = (offered, answer) {
                    answering = Some(tokio::spawn(answer.answer()));
                }
            }
            _ = tick.tick() => {
                callee.fill_pause(Instant::now());
                if let Some((mark, audio)) = callee.due(Instant::now()) {
                    let _ = transport.send_mark(&mark).await;
                    mouth.extend(audio.chunks(FRAME_BYTES).map(<[u8]>::to_vec));
                }
                // Two frames a tick keep the room's playout ahead of its 20 ms clock without
                // ever waiting on a full queue: the ear must be read the moment frames come.
                for frame in mouth.drain(..mouth.len().min(2)) {
                    let _ = transport.send_audio(&frame).await;
                }
            }
            _ = tokio::time::sleep_until(until) => break,
        }
    }
    drop(transport);
    room.leave().await;
    if let Some(task) = answering {
        if let Ok(Err(error)) = task.await {
            report.error = Some(error);
        }
    }
    callee.finish(report)
}

/// The callee's state between frames.
struct Callee {
    script: CalleeScript,
    ear: Decoder,
    heard: Vec<String>,
    undecodable: usize,
    /// Playout clock: when frame `frames_since_anchor` is due is `anchor + 20 ms * n`.
    anchor: Option<Instant>,
    /// When the ear was last fed a frame, received or filled in a pause.
    last_fed: Option<Instant>,
    /// The track is paused and the ear is being fed silence.
    filling: bool,
    frames_since_anchor: u32,
    gaps: usize,
    gap_late_ms: Vec<f64>,
    gap_at_ms: Vec<f64>,
    gap_arrivals: Vec<Instant>,
    frames_in: u64,
    first_voice: Option<Instant>,
    last_voice: Option<Instant>,
    voiced: bool,
    quiet_run: usize,
    /// When the current quiet run began.
    quiet_since: Option<Instant>,
    /// Agent utterances heard since our last reply.
    heard_new: usize,
    next_reply: usize,
    /// Utterances sent: mark name -> (utterance length, when it started at our mouth).
    pending_mark: Option<(String, Duration)>,
    /// The end of our last utterance, waiting for the agent's next audible frame.
    awaiting_reply_since: Option<Instant>,
    /// Until then, the callee's own utterance is going out.
    speaking_until: Option<Instant>,
    turn_latencies_ms: Vec<f64>,
    /// A barge-in under way: when it started, while the agent was audible.
    barge_in_started: Option<Instant>,
    barge_in_ms: Option<f64>,
}

impl Callee {
    fn new(script: CalleeScript) -> Self {
        Self {
            script,
            ear: Decoder::new(8000),
            heard: Vec::new(),
            undecodable: 0,
            anchor: None,
            last_fed: None,
            filling: false,
            frames_since_anchor: 0,
            gaps: 0,
            gap_late_ms: Vec::new(),
            gap_at_ms: Vec::new(),
            gap_arrivals: Vec::new(),
            frames_in: 0,
            first_voice: None,
            last_voice: None,
            voiced: false,
            quiet_run: 0,
            quiet_since: None,
            heard_new: 0,
            next_reply: 0,
            pending_mark: None,
            awaiting_reply_since: None,
            speaking_until: None,
            turn_latencies_ms: Vec::new(),
            barge_in_started: None,
            barge_in_ms: None,
        }
    }

    fn on_frame(&mut self, frame: &[u8], now: Instant) {
        self.frames_in += 1;
        // The playout clock: frame n of the anchor is due at anchor + JITTER + 20 ms * n.
        match self.anchor {
            None => {
                self.anchor = Some(now);
                self.frames_since_anchor = 0;
            }
            Some(anchor) => {
                self.frames_since_anchor += 1;
                let due = anchor + JITTER + FRAME * self.frames_since_anchor;
                if now > due && self.quiet_run >= QUIET_BEFORE_PAUSE {
                    // The track paused in silence: a new talkspurt, not a gap.
                    self.anchor = Some(now);
                    self.frames_since_anchor = 0;
                } else if now > due {
                    self.gaps += 1;
                    self.gap_late_ms.push((now - due).as_secs_f64() * 1000.0);
                    self.gap_at_ms.push(self.frames_in as f64 * 20.0);
                    self.gap_arrivals.push(now);
                    // The receiver plays it late and keeps its buffer from here.
                    self.anchor = Some(now);
                    self.frames_since_anchor = 0;
                }
            }
        }
        self.filling = false;
        self.hear(frame, now);
    }

    /// While the agent's track is paused, the ear hears silence on this 20 ms clock.
    fn fill_pause(&mut self, now: Instant) {
        // Paused once no frame came for the jitter buffer's length, then a frame a tick
        // (a quarter frame early at most: the tick itself is a few microseconds late).
        let wait = if self.filling { FRAME } else { JITTER };
        let paused = self.quiet_run >= QUIET_BEFORE_PAUSE
            && self
                .last_fed
                .is_some_and(|last| now + FRAME / 4 >= last + wait);
        if paused {
            self.filling = true;
            self.hear(&[mulaw::encode_sample(0); FRAME_BYTES], now);
        }
    }

    /// A frame's sound: the agent's voice starting and stopping, and the decoder.
    fn hear(&mut self, frame: &[u8], now: Instant) {
        self.last_fed = Some(now);
        let pcm = mulaw::decode(frame);
        let rms = (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
            / pcm.len().max(1) as f64)
            .sqrt();
        if rms > VOICE_RMS {
            // The agent starts speaking (it had stopped, not a dip between syllables):
            // if our last utterance is over, this is its reply.
            if !self.voiced && self.awaiting_reply_since.is_some_and(|since| now >= since) {
                if let Some(since) = self.awaiting_reply_since.take() {
                    self.turn_latencies_ms
                        .push(now.saturating_duration_since(since).as_secs_f64() * 1000.0);
                }
            }
            self.first_voice.get_or_insert(now);
            self.last_voice = Some(now);
            self.voiced = true;
            self.quiet_run = 0;
            self.quiet_since = None;
        } else {
            if self.quiet_run == 0 {
                self.quiet_since = Some(now);
            }
            self.quiet_run += 1;
            if self.quiet_run >= STOPPED_FRAMES {
                self.voiced = false;
                if let (Some(started), Some(quiet)) = (self.barge_in_started, self.quiet_since) {
                    if self.barge_in_ms.is_none() {
                        self.barge_in_ms =
                            Some(quiet.saturating_duration_since(started).as_secs_f64() * 1000.0);
                    }
                    self.barge_in_started = None;
                }
            }
        }
        for event in self.ear.push(&pcm) {
            match event {
                DecodeEvent::Utterance(utterance) => {
                    self.heard_new += 1;
                    self.heard.push(utterance.text);
                }
                DecodeEvent::Error(_) => self.undecodable += 1,
            }
        }
    }

    /// Our mark came back: the utterance's first frame has just gone out.
    fn on_mark(&mut self, name: &str, now: Instant) {
        let Some((mark, length)) = self.pending_mark.take() else {
            return;
        };
        if mark != name {
            self.pending_mark = Some((mark, length));
            return;
        }
        let end = now + length;
        self.speaking_until = Some(end);
        self.awaiting_reply_since = Some(end);
        if self.script.barge_in && self.next_reply == 1 && self.voiced {
            self.barge_in_started = Some(now);
        }
    }

    /// The next utterance if it is time for one: its mark and its mu-law audio.
    fn due(&mut self, now: Instant) -> Option<(String, Vec<u8>)> {
        let text = self.script.replies.get(self.next_reply)?.clone();
        if self.pending_mark.is_some() || self.speaking_until.is_some_and(|end| now < end) {
            return None;
        }
        let barging = self.script.barge_in && self.next_reply == 0;
        let ready = if barging {
            self.first_voice
                .is_some_and(|first| now >= first + BARGE_IN_AFTER)
        } else {
            self.heard_new > 0
                && !self.voiced
                && self
                    .last_voice
                    .is_some_and(|last| now >= last + REPLY_PAUSE)
        };
        if !ready {
            return None;
        }
        let samples = speech_code::encode(&text, 8000).ok()?;
        let mut audio = mulaw::encode(&samples);
        let padded = audio.len().div_ceil(FRAME_BYTES) * FRAME_BYTES;
        audio.resize(padded, mulaw::encode_sample(0));
        let length = Duration::from_millis(samples.len() as u64 / 8);
        let mark = format!("say-{}", self.next_reply);
        self.pending_mark = Some((mark.clone(), length));
        self.heard_new = 0;
        // A reply goes unanswered until the agent's next audible frame after it ends.
        self.awaiting_reply_since = None;
        self.next_reply += 1;
        Some((mark, audio))
    }

    fn finish(self, mut report: CalleeReport) -> CalleeReport {
        report.missing_tokens = self
            .script
            .tokens
            .iter()
            .filter(|token| !self.heard.iter().any(|h| h.contains(token.as_str())))
            .count();
        report.heard = self.heard;
        report.undecodable = self.undecodable;
        report.gaps = self.gaps;
        report.gap_late_ms = self.gap_late_ms;
        report.gap_at_ms = self.gap_at_ms;
        report.gap_arrivals = self.gap_arrivals;
        report.frames_in = self.frames_in;
        report.turn_latencies_ms = self.turn_latencies_ms;
        report.barge_in_ms = self.barge_in_ms;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice() -> Vec<u8> {
        let samples: Vec<i16> = (0..FRAME_BYTES)
            .map(|i| (4000.0 * (i as f64 * 0.5).sin()) as i16)
            .collect();
        mulaw::encode(&samples)
    }

    #[test]
    fn a_frame_later_than_the_jitter_buffer_is_one_gap() {
        let mut callee = Callee::new(CalleeScript::for_call(0, false));
        let start = Instant::now();
        let voice = voice();
        for n in 0..10 {
            callee.on_frame(&voice, start + FRAME * n);
        }
        // 40 ms late is inside the buffer; 100 ms late is not.
        callee.on_frame(&voice, start + FRAME * 10 + Duration::from_millis(40));
        assert_eq!(callee.gaps, 0);
        callee.on_frame(
            &voice,
            start + FRAME * 11 + JITTER + Duration::from_millis(40),
        );
        assert_eq!(callee.gaps, 1);
        // Re-anchored: on time from the late frame on.
        let late = start + FRAME * 11 + JITTER + Duration::from_millis(40);
        callee.on_frame(&voice, late + FRAME);
        assert_eq!(callee.gaps, 1);
    }

    #[test]
    fn a_track_paused_in_silence_is_heard_as_silence_and_its_next_talkspurt_is_no_gap() {
        let mut callee = Callee::new(CalleeScript::for_call(0, false));
        let start = Instant::now();
        let silence = vec![mulaw::encode_sample(0); FRAME_BYTES];
        callee.on_frame(&voice(), start);
        for n in 1..=QUIET_BEFORE_PAUSE as u32 {
            callee.on_frame(&silence, start + FRAME * n);
        }
        let paused_at = start + FRAME * QUIET_BEFORE_PAUSE as u32;
        // Nothing comes: after the jitter buffer's length, silence a tick.
        callee.fill_pause(paused_at + FRAME);
        assert_eq!(callee.quiet_run, QUIET_BEFORE_PAUSE);
        for n in 3..13 {
            callee.fill_pause(paused_at + FRAME * n);
        }
        assert_eq!(callee.quiet_run, QUIET_BEFORE_PAUSE + 10);
        assert!(!callee.voiced, "the agent stopped");
        // The agent speaks again, a second after its slot: a talkspurt, not a gap.
        callee.on_frame(&voice(), paused_at + Duration::from_secs(1));
        assert_eq!(callee.gaps, 0);
        assert!(callee.voiced);
        assert_eq!(callee.frames_in, 1 + QUIET_BEFORE_PAUSE as u64 + 1);
    }

    #[test]
    fn the_turn_latency_runs_from_our_last_word_to_the_agents_first_sound() {
        let mut callee = Callee::new(CalleeScript::for_call(0, false));
        let start = Instant::now();
        callee.pending_mark = Some(("say-0".into(), Duration::from_millis(500)));
        callee.on_mark("say-0", start);
        callee.on_frame(&voice(), start + Duration::from_millis(1200));
        assert_eq!(callee.turn_latencies_ms, vec![700.0]);
    }
}
