//! The callee's mouth: turns the script into 20 ms mu-law frames, one per tick.

use crate::audio::mulaw;
use crate::speech_code;
use crate::twilio::script::{Action, CalleeScript, Pickup};
use std::collections::VecDeque;

/// Samples per 20 ms frame at 8 kHz.
pub(crate) const FRAME: usize = 160;
const TICK_MS: u64 = 20;
/// Gap between pressed digits.
const DIGIT_GAP_MS: u64 = 200;
/// Voicemail: pause after answering before the greeting, and before the beep.
const VOICEMAIL_LEAD_MS: u64 = 300;
const BEEP_GAP_MS: u64 = 200;
/// The beep: 1 kHz for 400 ms, what answering machines commonly use.
const BEEP_HZ: f64 = 1000.0;
const BEEP_MS: u64 = 400;

#[derive(Debug, Clone)]
enum Step {
    Pause(u64),
    /// Wait until the agent has been heard and then quiet for this many ticks.
    WaitForAgent(u64),
    Speak {
        text: String,
        audio: Vec<u8>,
    },
    Beep(Vec<u8>),
    Digit(char),
    HangUp,
}

#[derive(Debug)]
enum Running {
    Pausing { until: u64 },
    Waiting { since: u64, quiet: u64 },
    Playing { audio: Vec<u8>, pos: usize },
}

/// What the mouth did on a tick, for the report and the stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum VoiceEvent {
    StartedSaying(String),
    Beeped,
    Digit(char),
    HangUp,
}

/// The script being played.
#[derive(Debug)]
pub(crate) struct Voice {
    steps: VecDeque<Step>,
    current: Option<Running>,
    started: bool,
    done: bool,
}

impl Voice {
    /// The person's steps (started later, by [`Voice::start`]) or a voicemail's (running
    /// from the answer).
    pub(crate) fn new(script: &CalleeScript) -> Self {
        let mut steps = VecDeque::new();
        let started = match &script.pickup {
            Pickup::Voicemail {
                greeting,
                record_ms,
            } => {
                steps.push_back(Step::Pause(ticks(VOICEMAIL_LEAD_MS)));
                steps.push_back(speak(greeting));
                steps.push_back(Step::Pause(ticks(BEEP_GAP_MS)));
                steps.push_back(Step::Beep(beep()));
                steps.push_back(Step::Pause(ticks(*record_ms)));
                steps.push_back(Step::HangUp);
                true
            }
            _ => false,
        };
        for action in &script.actions {
            match action {
                Action::Say {
                    text,
                    after_ms,
                    wait_for_agent,
                    garbled,
                } => {
                    steps.push_back(if *wait_for_agent {
                        Step::WaitForAgent(ticks(*after_ms))
                    } else {
                        Step::Pause(ticks(*after_ms))
                    });
                    let mut step = speak(text);
                    if *garbled {
                        garble(&mut step);
                    }
                    steps.push_back(step);
                }
                Action::Press { digits, after_ms } => {
                    steps.push_back(Step::Pause(ticks(*after_ms)));
                    for digit in digits.chars() {
                        steps.push_back(Step::Digit(digit));
                        steps.push_back(Step::Pause(ticks(DIGIT_GAP_MS)));
                    }
                }
                Action::HangUp { after_ms } => {
                    steps.push_back(Step::Pause(ticks(*after_ms)));
                    steps.push_back(Step::HangUp);
                }
            }
        }
        Voice {
            steps,
            current: None,
            started,
            done: false,
        }
    }

    /// Starts the script (idempotent).
    pub(crate) fn start(&mut self) {
        self.started = true;
    }

    /// The frame for tick `tick`; `last_agent_audio` is the last tick the ear heard the
    /// agent.
    pub(crate) fn frame(
        &mut self,
        tick: u64,
        last_agent_audio: Option<u64>,
    ) -> ([u8; FRAME], Vec<VoiceEvent>) {
        let mut frame = [mulaw::SILENCE; FRAME];
        let mut events = Vec::new();
        if !self.started || self.done {
            return (frame, events);
        }
        loop {
            if self.current.is_none() {
                let Some(step) = self.steps.pop_front() else {
                    return (frame, events);
                };
                self.current = match step {
                    Step::Pause(n) => Some(Running::Pausing { until: tick + n }),
                    Step::WaitForAgent(quiet) => Some(Running::Waiting { since: tick, quiet }),
                    Step::Speak { text, audio } => {
                        events.push(VoiceEvent::StartedSaying(text));
                        Some(Running::Playing { audio, pos: 0 })
                    }
                    Step::Beep(audio) => {
                        events.push(VoiceEvent::Beeped);
                        Some(Running::Playing { audio, pos: 0 })
                    }
                    Step::Digit(digit) => {
                        events.push(VoiceEvent::Digit(digit));
                        None
                    }
                    Step::HangUp => {
                        events.push(VoiceEvent::HangUp);
                        self.done = true;
                        return (frame, events);
                    }
                };
            }
            match &mut self.current {
                Some(Running::Pausing { until }) if tick < *until => return (frame, events),
                Some(Running::Waiting { since, quiet }) => {
                    let heard_and_quiet = last_agent_audio
                        .is_some_and(|last| last >= *since && tick.saturating_sub(last) > *quiet);
                    if !heard_and_quiet {
                        return (frame, events);
                    }
                }
                Some(Running::Playing { audio, pos }) => {
                    let end = (*pos + FRAME).min(audio.len());
                    frame[..end - *pos].copy_from_slice(&audio[*pos..end]);
                    *pos = end;
                    if *pos >= audio.len() {
                        self.current = None;
                    }
                    return (frame, events);
                }
                _ => {}
            }
            self.current = None;
        }
    }
}

/// Phone-clock time at which a voicemail with `greeting` finishes its beep: when AMD's
/// `DetectMessageEnd` reports `machine_end_beep`.
pub(crate) fn voicemail_beep_end_ms(greeting: &str) -> u64 {
    let greeting_ticks =
        (speech_code::utterance_samples(greeting.len(), 8000) as u64).div_ceil(FRAME as u64);
    let beep_ticks = (BEEP_MS * 8).div_ceil(FRAME as u64);
    (ticks(VOICEMAIL_LEAD_MS) + greeting_ticks + ticks(BEEP_GAP_MS) + beep_ticks) * TICK_MS
}

fn ticks(ms: u64) -> u64 {
    ms.div_ceil(TICK_MS)
}

fn speak(text: &str) -> Step {
    // Script texts come from the test author; one that cannot be encoded is sent as
    // silence of the same shape rather than taking the emulator down.
    let pcm = speech_code::encode(text, 8000).unwrap_or_default();
    Step::Speak {
        text: text.to_string(),
        audio: mulaw::encode(&pcm),
    }
}

/// Scrambles a spoken step's audio past its first eighth: as loud as speech to a VAD, no
/// word of it decodable (Deepgram's emulator answers an empty final). Corrupting a part
/// in the middle is not enough: the words around it still decode.
fn garble(step: &mut Step) {
    if let Step::Speak { audio, .. } = step {
        let from = audio.len() / 8;
        audio[from..].iter_mut().for_each(|b| *b ^= 0x5A);
    }
}

fn beep() -> Vec<u8> {
    let len = (BEEP_MS * 8) as usize;
    let pcm: Vec<i16> = (0..len)
        .map(|n| {
            let t = n as f64 / 8000.0;
            (0.3 * 32767.0 * (2.0 * std::f64::consts::PI * BEEP_HZ * t).sin()) as i16
        })
        .collect();
    mulaw::encode(&pcm)
}
