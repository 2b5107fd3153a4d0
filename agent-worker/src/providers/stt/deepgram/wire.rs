//! Deepgram live-transcription messages: what the service sends, as `SttEvent`s, and the
//! control messages we send.

use crate::providers::SttEvent;
use serde::Deserialize;

/// Keeps an idle stream open (Deepgram closes after 10 s without data).
pub(super) const KEEP_ALIVE: &str = r#"{"type":"KeepAlive"}"#;
/// Transcribe what was received so far now.
pub(super) const FINALIZE: &str = r#"{"type":"Finalize"}"#;
/// Flush, send the last results and close.
pub(super) const CLOSE_STREAM: &str = r#"{"type":"CloseStream"}"#;

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
enum Message {
    Results(Results),
    SpeechStarted {
        #[serde(default)]
        timestamp: f64,
    },
    UtteranceEnd {
        #[serde(default)]
        last_word_end: f64,
    },
    Metadata {
        #[serde(default)]
        request_id: Option<String>,
    },
    Error {
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        message: Option<String>,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct Results {
    #[serde(default)]
    is_final: bool,
    #[serde(default)]
    speech_final: bool,
    #[serde(default)]
    from_finalize: bool,
    #[serde(default)]
    start: f64,
    #[serde(default)]
    duration: f64,
    #[serde(default)]
    channel: Channel,
}

#[derive(Debug, Default, Deserialize)]
struct Channel {
    #[serde(default)]
    alternatives: Vec<Alternative>,
}

#[derive(Debug, Deserialize)]
struct Alternative {
    #[serde(default)]
    transcript: String,
    #[serde(default)]
    confidence: Option<f64>,
}

/// What one text message means.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Event(SttEvent),
    /// Nothing for the pipeline (metadata, empty interims, unknown types).
    Nothing,
    /// The service reported an error; the session is over.
    Error(String),
}

fn ms(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1_000.0).round() as u64
}

/// Parses one text message. Unparseable text is `Nothing` (logged): a new field or type
/// from the service must not end a call.
pub fn parse(text: &str) -> Parsed {
    let message = match serde_json::from_str::<Message>(text) {
        Ok(message) => message,
        Err(error) => {
            tracing::debug!(%error, "unparseable Deepgram message");
            return Parsed::Nothing;
        }
    };
    match message {
        Message::Results(results) => from_results(results),
        Message::SpeechStarted { timestamp } => Parsed::Event(SttEvent::SpeechStarted {
            at_ms: ms(timestamp),
        }),
        Message::UtteranceEnd { last_word_end } => Parsed::Event(SttEvent::UtteranceEnd {
            at_ms: ms(last_word_end),
        }),
        Message::Metadata { request_id } => {
            tracing::debug!(?request_id, "Deepgram session metadata");
            Parsed::Nothing
        }
        Message::Error {
            description,
            message,
        } => Parsed::Error(
            description
                .or(message)
                .unwrap_or_else(|| "unspecified error".into()),
        ),
        Message::Other => Parsed::Nothing,
    }
}

fn from_results(results: Results) -> Parsed {
    let best = results.channel.alternatives.into_iter().next();
    let (text, confidence) = best.map_or((String::new(), None), |a| (a.transcript, a.confidence));
    let text = text.trim().to_string();
    if !results.is_final {
        return if text.is_empty() {
            Parsed::Nothing
        } else {
            Parsed::Event(SttEvent::Interim { text })
        };
    }
    // An empty final still matters when it ends a turn or answers our Finalize.
    if text.is_empty() && !results.speech_final && !results.from_finalize {
        return Parsed::Nothing;
    }
    Parsed::Event(SttEvent::Final {
        text,
        start_ms: ms(results.start),
        end_ms: ms(results.start + results.duration),
        confidence,
        speech_final: results.speech_final,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(is_final: bool, speech_final: bool, transcript: &str) -> String {
        serde_json::json!({
            "type": "Results", "channel_index": [0, 1], "duration": 1.25, "start": 2.5,
            "is_final": is_final, "speech_final": speech_final,
            "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.92, "words": []}]},
            "metadata": {"request_id": "r"}
        })
        .to_string()
    }

    #[test]
    fn interim_and_final_results_become_events_with_times_in_ms() {
        assert_eq!(
            parse(&results(false, false, "hello wor")),
            Parsed::Event(SttEvent::Interim {
                text: "hello wor".into()
            })
        );
        assert_eq!(
            parse(&results(true, true, " hello world ")),
            Parsed::Event(SttEvent::Final {
                text: "hello world".into(),
                start_ms: 2_500,
                end_ms: 3_750,
                confidence: Some(0.92),
                speech_final: true,
            })
        );
    }

    #[test]
    fn empty_results_are_dropped_unless_they_end_a_turn() {
        assert_eq!(parse(&results(false, false, "")), Parsed::Nothing);
        assert_eq!(parse(&results(true, false, "")), Parsed::Nothing);
        assert!(matches!(
            parse(&results(true, true, "")),
            Parsed::Event(SttEvent::Final {
                speech_final: true,
                ..
            })
        ));
        let answered = r#"{"type":"Results","is_final":true,"from_finalize":true,"start":1,"duration":0.5,"channel":{"alternatives":[{"transcript":""}]}}"#;
        assert!(matches!(
            parse(answered),
            Parsed::Event(SttEvent::Final { .. })
        ));
    }

    #[test]
    fn vad_and_utterance_messages_become_events() {
        assert_eq!(
            parse(r#"{"type":"SpeechStarted","channel":[0],"timestamp":1.02}"#),
            Parsed::Event(SttEvent::SpeechStarted { at_ms: 1_020 })
        );
        assert_eq!(
            parse(r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":3.1}"#),
            Parsed::Event(SttEvent::UtteranceEnd { at_ms: 3_100 })
        );
    }

    #[test]
    fn metadata_unknown_and_broken_messages_are_ignored_and_errors_reported() {
        assert_eq!(
            parse(r#"{"type":"Metadata","request_id":"abc","duration":3.2}"#),
            Parsed::Nothing
        );
        assert_eq!(parse(r#"{"type":"SomethingNew","x":1}"#), Parsed::Nothing);
        assert_eq!(parse("not json"), Parsed::Nothing);
        assert_eq!(
            parse(r#"{"type":"Error","description":"bad audio"}"#),
            Parsed::Error("bad audio".into())
        );
    }
}
