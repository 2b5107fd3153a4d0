//! The callee's ear: a playout buffer drained 160 bytes per 20 ms tick, like a phone's
//! jitter buffer, with Twilio's mark and clear semantics, and a speech-code decoder on what
//! actually came out.

use super::voice::FRAME;
use crate::audio::mulaw;
use crate::providers::deepgram_listen::gated::GatedDecoder;
use crate::speech_code::DecodeEvent;
use crate::twilio::report::Heard;
use std::collections::VecDeque;

/// Mean absolute level above which a frame counts as the agent talking (about -50 dBFS):
/// a product that streams digital silence between turns is not "talking".
const AUDIBLE: i32 = 100;

/// What one tick of playout produced.
#[derive(Debug, Default)]
pub(crate) struct Playout {
    /// Marks whose audio has now all been played.
    pub echoed: Vec<String>,
    /// Utterances completed by this frame.
    pub heard: Vec<Heard>,
    /// The frame ran short while an utterance was mid-way.
    pub underrun: bool,
    /// The frame carried the agent's voice.
    pub audible: bool,
    /// The bytes that reached the ear.
    pub frame: Vec<u8>,
}

/// The playout buffer and what came out of it.
#[derive(Debug)]
pub(crate) struct Speaker {
    buffer: VecDeque<u8>,
    /// Bytes ever queued; a mark is due once `played` reaches the value it was queued at.
    queued: u64,
    played: u64,
    marks: VecDeque<(String, u64)>,
    decoder: GatedDecoder,
    /// The decoder is still inside an utterance a `clear` cut short.
    cut_short: bool,
}

impl Speaker {
    pub(crate) fn new() -> Self {
        Speaker {
            buffer: VecDeque::new(),
            queued: 0,
            played: 0,
            marks: VecDeque::new(),
            // Behind the silence gate: most ticks are quiet, and decoding them was a third
            // of the voice bench's harness (the gate changes no result).
            decoder: GatedDecoder::new(8000, true),
            cut_short: false,
        }
    }

    /// Audio from the agent (`media`).
    pub(crate) fn enqueue(&mut self, bytes: &[u8]) {
        self.buffer.extend(bytes);
        self.queued += bytes.len() as u64;
    }

    /// A `mark`: echoed once everything queued before it has played.
    pub(crate) fn mark(&mut self, name: String) {
        self.marks.push_back((name, self.queued));
    }

    /// A `clear`: drops the buffer and returns every pending mark, plus the bytes dropped.
    /// The utterance it cut short is over on purpose, so running dry in it is no underrun.
    pub(crate) fn clear(&mut self) -> (Vec<String>, usize) {
        self.cut_short = self.decoder.utterance_start().is_some();
        let dropped = self.buffer.len();
        self.buffer.clear();
        self.played = self.queued;
        (
            self.marks.drain(..).map(|(name, _)| name).collect(),
            dropped,
        )
    }

    /// Plays one 20 ms frame (silence where the buffer runs short). Called once per phone
    /// tick from the answer on, so the decoder's sample count is the phone clock.
    pub(crate) fn tick(&mut self) -> Playout {
        let available = self.buffer.len().min(FRAME);
        let mut frame: Vec<u8> = self.buffer.drain(..available).collect();
        self.played += available as u64;
        frame.resize(FRAME, mulaw::SILENCE);

        let mut out = Playout::default();
        while self.marks.front().is_some_and(|(_, at)| *at <= self.played) {
            if let Some((name, _)) = self.marks.pop_front() {
                out.echoed.push(name);
            }
        }
        // Decoded on the stack: this runs for every call every 20 ms.
        let mut pcm = [0i16; FRAME];
        for (sample, &byte) in pcm.iter_mut().zip(&frame) {
            *sample = mulaw::decode_sample(byte);
        }
        let level = pcm.iter().map(|&s| i32::from(s).abs()).sum::<i32>() / FRAME as i32;
        out.audible = available > 0 && level > AUDIBLE;
        for event in self.decoder.push(&pcm) {
            out.heard.push(match event {
                DecodeEvent::Utterance(u) => Heard {
                    text: Some(u.text),
                    error: None,
                    start_ms: u.start_sample / 8,
                    end_ms: u.end_sample / 8,
                },
                DecodeEvent::Error(e) => Heard {
                    text: None,
                    error: Some(format!("{:?}", e.fault)),
                    start_ms: e.start_sample / 8,
                    end_ms: e.end_sample / 8,
                },
            });
        }
        // Still mid-utterance after a short frame: the utterance needed audio that was not
        // there in time (unless a clear cut it short).
        if self.decoder.utterance_start().is_none() {
            self.cut_short = false;
        }
        out.underrun =
            available < FRAME && self.decoder.utterance_start().is_some() && !self.cut_short;
        out.frame = frame;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_echoed_only_after_the_audio_before_it_has_played() {
        let mut speaker = Speaker::new();
        speaker.enqueue(&[0x00; 400]);
        speaker.mark("end".into());
        assert!(speaker.tick().echoed.is_empty());
        assert!(speaker.tick().echoed.is_empty());
        assert_eq!(speaker.tick().echoed, vec!["end".to_string()]);
    }

    #[test]
    fn clear_drops_buffered_audio_and_returns_pending_marks() {
        let mut speaker = Speaker::new();
        speaker.enqueue(&[0x00; 1600]);
        speaker.mark("a".into());
        speaker.enqueue(&[0x00; 160]);
        speaker.mark("b".into());
        let (marks, dropped) = speaker.clear();
        assert_eq!(marks, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(dropped, 1760);
        let next = speaker.tick();
        assert!(!next.audible && next.echoed.is_empty());
    }

    #[test]
    fn speech_played_out_is_decoded_with_phone_clock_times() {
        let mut speaker = Speaker::new();
        speaker.enqueue(&[mulaw::SILENCE; 800]);
        let pcm = crate::speech_code::encode("heard me", 8000).expect("ascii");
        speaker.enqueue(&mulaw::encode(&pcm));
        let mut heard = Vec::new();
        for _ in 0..200 {
            heard.extend(speaker.tick().heard);
        }
        assert_eq!(heard.len(), 1);
        assert_eq!(heard[0].text.as_deref(), Some("heard me"));
        assert!((heard[0].start_ms as i64 - 100).abs() <= 2);
    }

    #[test]
    fn audio_arriving_late_mid_utterance_is_an_underrun_and_not_heard_as_text() {
        let mut speaker = Speaker::new();
        let pcm = crate::speech_code::encode("late audio", 8000).expect("ascii");
        let bytes = mulaw::encode(&pcm);
        let (first, rest) = bytes.split_at(bytes.len() / 2);
        speaker.enqueue(first);
        let mut playouts = Vec::new();
        for _ in 0..(first.len() / FRAME + 3) {
            playouts.push(speaker.tick());
        }
        speaker.enqueue(rest);
        for _ in 0..(rest.len() / FRAME + 20) {
            playouts.push(speaker.tick());
        }
        assert!(playouts.iter().any(|p| p.underrun), "no underrun flagged");
        let heard: Vec<_> = playouts.iter().flat_map(|p| p.heard.clone()).collect();
        assert!(heard.iter().all(|h| h.text.is_none()), "{heard:?}");
    }

    #[test]
    fn the_natural_end_of_an_utterance_is_not_an_underrun() {
        let mut speaker = Speaker::new();
        let pcm = crate::speech_code::encode("ends mid frame", 8000).expect("ascii");
        speaker.enqueue(&mulaw::encode(&pcm));
        let playouts: Vec<Playout> = (0..200).map(|_| speaker.tick()).collect();
        assert!(playouts.iter().all(|p| !p.underrun));
        assert_eq!(playouts.iter().flat_map(|p| p.heard.clone()).count(), 1);
    }
}
