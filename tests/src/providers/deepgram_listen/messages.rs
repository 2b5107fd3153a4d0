//! The JSON Deepgram sends on a live socket. Times are seconds on the received-audio
//! clock, rounded to the millisecond.

use super::transcriber::{Heard, Results};
use crate::speech_code::alphabet::{Timing, PREAMBLE, SYMBOL_MS};
use serde_json::{json, Value};

/// Confidence given to text that passed the speech code's checksum.
const CONFIDENCE: f64 = 0.99;

/// What every message of one session names.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub request_id: String,
    pub model: String,
    pub model_uuid: String,
    pub rate: u32,
}

impl Session {
    /// Seconds, to the millisecond.
    pub(super) fn secs(&self, samples: u64) -> f64 {
        (samples as f64 * 1000.0 / f64::from(self.rate)).round() / 1000.0
    }

    fn model_info(&self) -> Value {
        json!({"name": "general", "version": "emulator", "arch": self.model})
    }
}

/// Each word of an utterance with its time: the speech code sends bytes in order after
/// the preamble and the length byte, two symbols per byte, so a word's span is exact. The
/// last word runs to the utterance's end (over the checksum), so `UtteranceEnd`'s
/// `last_word_end` is the last word's `end`.
fn words(session: &Session, heard: &Heard) -> Vec<Value> {
    let timing = Timing { rate: session.rate };
    let first_data = PREAMBLE.len() + 2;
    let at = |byte: usize| heard.start + timing.symbol_start(first_data + 2 * byte) as u64;
    let until = |byte_end: usize| {
        let last = first_data + 2 * byte_end - 1;
        heard.start + (timing.symbol_start(last) + timing.samples(SYMBOL_MS)) as u64
    };
    let mut out: Vec<Value> = Vec::new();
    let mut offset = 0;
    for token in heard.text.split(' ') {
        let (from, to) = (offset, offset + token.len());
        offset = to + 1;
        if token.trim().is_empty() {
            continue;
        }
        let bare = token
            .trim_matches(|c: char| c.is_ascii_punctuation() && c != '-')
            .to_ascii_lowercase();
        out.push(json!({
            "word": if bare.is_empty() { token.to_string() } else { bare },
            "start": session.secs(at(from)),
            "end": session.secs(until(to)),
            "confidence": CONFIDENCE,
            "punctuated_word": token,
        }));
    }
    if let Some(last) = out.last_mut() {
        last["end"] = json!(session.secs(heard.end));
    }
    out
}

/// A `Results` message.
pub(super) fn results(session: &Session, r: &Results) -> Value {
    let transcript = r
        .heard
        .iter()
        .map(|h| h.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let words: Vec<Value> = r.heard.iter().flat_map(|h| words(session, h)).collect();
    let confidence = if transcript.is_empty() {
        0.0
    } else {
        CONFIDENCE
    };
    let start = session.secs(r.start);
    let duration = ((session.secs(r.end) - start) * 1000.0).round() / 1000.0;
    json!({
        "type": "Results",
        "channel_index": [0, 1],
        "duration": duration,
        "start": start,
        "is_final": r.is_final,
        "speech_final": r.speech_final,
        "from_finalize": r.from_finalize,
        "channel": {"alternatives": [{
            "transcript": transcript,
            "confidence": confidence,
            "words": words,
        }]},
        "metadata": {
            "request_id": session.request_id,
            "model_info": session.model_info(),
            "model_uuid": session.model_uuid,
        },
    })
}

/// `SpeechStarted`.
pub(super) fn speech_started(session: &Session, at: u64) -> Value {
    json!({"type": "SpeechStarted", "channel": [0], "timestamp": session.secs(at)})
}

/// `UtteranceEnd`.
pub(super) fn utterance_end(session: &Session, last_word_end: u64) -> Value {
    json!({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": session.secs(last_word_end)})
}

/// The summary sent before closing on `CloseStream`.
pub(super) fn metadata(session: &Session, audio_seconds: f64) -> Value {
    json!({
        "type": "Metadata",
        "transaction_key": "deprecated",
        "request_id": session.request_id,
        "created": chrono::Utc::now().to_rfc3339(),
        "duration": (audio_seconds * 1000.0).round() / 1000.0,
        "channels": 1,
        "models": [session.model_uuid],
        "model_info": {session.model_uuid.clone(): session.model_info()},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speech_code::encode;

    #[test]
    fn word_times_cover_the_utterance_in_order() {
        let session = Session {
            request_id: "r".into(),
            model: "nova-3".into(),
            model_uuid: "u".into(),
            rate: 8000,
        };
        let text = "Hello, token-17 now";
        let len = encode(text, 8000).expect("ascii").len() as u64;
        let heard = Heard {
            text: text.into(),
            start: 8000,
            end: 8000 + len,
        };
        let words = words(&session, &heard);
        assert_eq!(words.len(), 3);
        assert_eq!(words[0]["word"], "hello");
        assert_eq!(words[0]["punctuated_word"], "Hello,");
        assert_eq!(words[1]["word"], "token-17");
        let last_end = words[2]["end"].as_f64().expect("number");
        assert_eq!(last_end, session.secs(8000 + len));
        let middle_end = words[1]["end"].as_f64().expect("number");
        assert!(middle_end < words[2]["start"].as_f64().expect("number"));
        assert!(words[0]["start"].as_f64() > Some(1.0));
    }
}
