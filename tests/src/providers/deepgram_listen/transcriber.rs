//! Deepgram's live transcription behaviour on the received-audio clock, with no I/O: audio
//! in, messages out. All times are sample positions since the session's first byte.
//!
//! - `SpeechStarted` when the decoder recognises an utterance's preamble, stamped with the
//!   utterance's first sample.
//! - An interim `Results` (`is_final: false`) with the checked text the moment an utterance
//!   decodes, when interim results were asked for. Text inside an utterance is not exposed
//!   before its checksum passes, so no partial interims.
//! - A final `Results` (`is_final` and `speech_final`) once `endpointing` ms past the last
//!   utterance's end are confirmed free of speech. It carries every utterance decoded since
//!   the previous final; `start` is the previous final's end, `start + duration` the
//!   endpoint. An utterance that could not be decoded yields an empty final.
//! - `UtteranceEnd` once `utterance_end_ms` past the last speech is confirmed, if words were
//!   heard since the previous one.
//! - `Finalize` and the end of the stream flush what is pending as a final.
//!
//! "Confirmed" matters because an utterance is only recognised about 120 ms after it
//! starts. A gap is confirmed when the audio reached its end and no utterance being read
//! started inside it, and either the last [`LOCK_MS`] before its end were silent or
//! [`LOCK_MS`] more of audio have arrived (by then any utterance that began in the gap is
//! being read). Between turns on a phone line (digital silence) this adds no delay.

use super::gated::{is_quiet, GatedDecoder};
use crate::speech_code::{DecodeError, DecodeEvent};

/// Longest time from an utterance's start to the decoder locking on to it, with margin.
const LOCK_MS: u64 = 160;
/// Audio is processed in steps this long, so decisions land within 20 ms of their time.
const STEP_MS: u64 = 20;

/// What the session asked for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    pub rate: u32,
    pub interim_results: bool,
    pub endpointing_ms: Option<u64>,
    pub utterance_end_ms: Option<u64>,
    pub vad_events: bool,
    pub silence_gate: bool,
}

/// One decoded utterance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Heard {
    pub text: String,
    pub start: u64,
    pub end: u64,
}

/// A `Results` message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Results {
    pub start: u64,
    pub end: u64,
    pub heard: Vec<Heard>,
    pub is_final: bool,
    pub speech_final: bool,
    pub from_finalize: bool,
}

/// Something to tell the client (or the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Output {
    SpeechStarted {
        at: u64,
    },
    Results(Results),
    UtteranceEnd {
        last_word_end: u64,
    },
    /// Not sent: recorded in the report.
    Undecodable(DecodeError),
}

/// One session's transcription state.
pub(super) struct Transcriber {
    opts: Options,
    decoder: GatedDecoder,
    step: usize,
    received: u64,
    /// End of the last final: where the next `Results` starts.
    cursor: u64,
    /// Decoded since the last final.
    pending: Vec<Heard>,
    /// An utterance failed since the last final (an empty final is owed).
    failed: bool,
    /// End of the last utterance, decoded or not.
    last_speech_end: Option<u64>,
    /// End of the last decoded word since the last `UtteranceEnd`.
    last_word_end: Option<u64>,
    /// Start of the current run of silent audio.
    quiet_since: Option<u64>,
    /// The utterance start already announced with `SpeechStarted`.
    announced: Option<u64>,
}

impl Transcriber {
    pub(super) fn new(opts: Options) -> Self {
        Transcriber {
            decoder: GatedDecoder::new(opts.rate, opts.silence_gate),
            step: (u64::from(opts.rate) * STEP_MS / 1000) as usize,
            opts,
            received: 0,
            cursor: 0,
            pending: Vec::new(),
            failed: false,
            last_speech_end: None,
            last_word_end: None,
            quiet_since: Some(0),
            announced: None,
        }
    }

    fn samples(&self, ms: u64) -> u64 {
        ms * u64::from(self.opts.rate) / 1000
    }

    /// Samples received so far.
    pub(super) fn received(&self) -> u64 {
        self.received
    }

    /// Samples the silence gate spared the decoder.
    pub(super) fn skipped(&self) -> u64 {
        self.decoder.skipped()
    }

    /// Feeds audio; returns what it caused, in order.
    pub(super) fn push(&mut self, samples: &[i16]) -> Vec<Output> {
        let mut out = Vec::new();
        for piece in samples.chunks(self.step.max(1)) {
            let events = self.decoder.push(piece);
            if is_quiet(piece) {
                self.quiet_since.get_or_insert(self.received);
            } else {
                self.quiet_since = None;
            }
            self.received += piece.len() as u64;
            for event in events {
                self.on_event(event, &mut out);
            }
            let start = self.decoder.utterance_start();
            if start.is_some() && start != self.announced {
                self.announced = start;
                if let (true, Some(at)) = (self.opts.vad_events, start) {
                    out.push(Output::SpeechStarted { at });
                }
            }
            self.check_endpoint(&mut out);
            self.check_utterance_end(&mut out);
        }
        out
    }

    fn on_event(&mut self, event: DecodeEvent, out: &mut Vec<Output>) {
        match event {
            DecodeEvent::Utterance(u) => {
                self.last_speech_end = Some(u.end_sample);
                self.last_word_end = Some(u.end_sample);
                self.pending.push(Heard {
                    text: u.text,
                    start: u.start_sample,
                    end: u.end_sample,
                });
                if self.opts.endpointing_ms.is_none() {
                    self.flush(u.end_sample, false, false, out);
                } else if self.opts.interim_results {
                    out.push(Output::Results(Results {
                        start: self.cursor,
                        end: u.end_sample.max(self.cursor),
                        heard: self.pending.clone(),
                        is_final: false,
                        speech_final: false,
                        from_finalize: false,
                    }));
                }
            }
            DecodeEvent::Error(e) => {
                self.failed = true;
                let end = self.last_speech_end.unwrap_or(0).max(e.end_sample);
                self.last_speech_end = Some(end);
                out.push(Output::Undecodable(e));
            }
        }
    }

    /// Whether the audio up to `point` held no speech start the decoder has yet to see.
    fn gap_confirmed(&self, point: u64) -> bool {
        if self.received < point {
            return false;
        }
        if self.decoder.utterance_start().is_some_and(|s| s < point) {
            return false;
        }
        let lock = self.samples(LOCK_MS);
        self.quiet_since.is_some_and(|q| q + lock <= point) || self.received >= point + lock
    }

    fn check_endpoint(&mut self, out: &mut Vec<Output>) {
        let (Some(ms), Some(last)) = (self.opts.endpointing_ms, self.last_speech_end) else {
            return;
        };
        if self.pending.is_empty() && !self.failed {
            return;
        }
        let point = last + self.samples(ms);
        if self.gap_confirmed(point) {
            self.flush(point, true, false, out);
        }
    }

    fn check_utterance_end(&mut self, out: &mut Vec<Output>) {
        let (Some(ms), Some(word_end), Some(last)) = (
            self.opts.utterance_end_ms,
            self.last_word_end,
            self.last_speech_end,
        ) else {
            return;
        };
        let point = last.max(word_end) + self.samples(ms);
        if !self.gap_confirmed(point) {
            return;
        }
        if !self.pending.is_empty() {
            self.flush(point, false, false, out);
        }
        out.push(Output::UtteranceEnd {
            last_word_end: word_end,
        });
        self.last_word_end = None;
    }

    /// Sends what is pending as a final ending at `end`.
    fn flush(&mut self, end: u64, speech_final: bool, from_finalize: bool, out: &mut Vec<Output>) {
        let end = end.max(self.cursor);
        out.push(Output::Results(Results {
            start: self.cursor,
            end,
            heard: std::mem::take(&mut self.pending),
            is_final: true,
            speech_final,
            from_finalize,
        }));
        self.cursor = end;
        self.failed = false;
    }

    /// `Finalize`: whatever is pending goes out now as a final (possibly empty).
    pub(super) fn finalize(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        self.flush(self.received, false, true, &mut out);
        out
    }

    /// The end of the stream: an utterance cut off is undecodable; what is pending goes
    /// out as a final.
    pub(super) fn close(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        for event in self.decoder.finish() {
            self.on_event(event, &mut out);
        }
        if !self.pending.is_empty() || self.failed {
            self.flush(self.received, false, false, &mut out);
        }
        out
    }
}
