//! The Media Streams JSON messages, read borrowed (no copy of the payload) and written by
//! hand (the outbound shapes are fixed, and this runs 50 times a second per call).

use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A message from Twilio.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub(super) enum Incoming<'a> {
    Connected,
    Start {
        start: Start,
    },
    Media {
        #[serde(borrow)]
        media: Media<'a>,
    },
    Dtmf {
        dtmf: Dtmf,
    },
    Mark {
        #[serde(borrow)]
        mark: Mark<'a>,
    },
    Stop,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Start {
    pub(super) stream_sid: String,
    pub(super) call_sid: String,
    #[serde(default)]
    pub(super) custom_parameters: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Media<'a> {
    #[serde(borrow)]
    pub(super) payload: &'a str,
}

#[derive(Debug, Deserialize)]
pub(super) struct Dtmf {
    pub(super) digit: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct Mark<'a> {
    #[serde(borrow)]
    pub(super) name: Cow<'a, str>,
}

/// Stream SIDs and mark names are ours or Twilio's: `MZ` + hex, `r1g0f10`. Quote them
/// safely anyway.
fn quoted(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

pub(super) fn media(stream_sid: &str, payload_b64: &str) -> String {
    format!(
        r#"{{"event":"media","streamSid":{},"media":{{"payload":"{payload_b64}"}}}}"#,
        quoted(stream_sid)
    )
}

pub(super) fn mark(stream_sid: &str, name: &str) -> String {
    format!(
        r#"{{"event":"mark","streamSid":{},"mark":{{"name":{}}}}}"#,
        quoted(stream_sid),
        quoted(name)
    )
}

pub(super) fn clear(stream_sid: &str) -> String {
    format!(r#"{{"event":"clear","streamSid":{}}}"#, quoted(stream_sid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_twilio_messages_as_documented() {
        let start = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"callId":"c","token":"t"}}}"#;
        let Incoming::Start { start } = serde_json::from_str(start).unwrap() else {
            panic!("not a start");
        };
        assert_eq!(start.call_sid, "CA1");
        assert_eq!(start.custom_parameters["token"], "t");
        let media = r#"{"event":"media","sequenceNumber":"4","streamSid":"MZ1","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"//8="}}"#;
        assert!(
            matches!(serde_json::from_str(media).unwrap(), Incoming::Media { media } if media.payload == "//8=")
        );
        let mark =
            r#"{"event":"mark","sequenceNumber":"6","streamSid":"MZ1","mark":{"name":"r1g0f10"}}"#;
        assert!(
            matches!(serde_json::from_str(mark).unwrap(), Incoming::Mark { mark } if mark.name == "r1g0f10")
        );
        let dtmf = r#"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}"#;
        assert!(
            matches!(serde_json::from_str(dtmf).unwrap(), Incoming::Dtmf { dtmf } if dtmf.digit == "1")
        );
        let stop = r#"{"event":"stop","sequenceNumber":"7","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#;
        assert!(matches!(
            serde_json::from_str(stop).unwrap(),
            Incoming::Stop
        ));
        assert!(matches!(
            serde_json::from_str(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#)
                .unwrap(),
            Incoming::Connected
        ));
    }

    #[test]
    fn writes_messages_twilio_accepts() {
        let value: serde_json::Value = serde_json::from_str(&media("MZ1", "//8=")).unwrap();
        assert_eq!(value["event"], "media");
        assert_eq!(value["streamSid"], "MZ1");
        assert_eq!(value["media"]["payload"], "//8=");
        let value: serde_json::Value = serde_json::from_str(&mark("MZ1", "a\"b")).unwrap();
        assert_eq!(value["mark"]["name"], "a\"b");
        let value: serde_json::Value = serde_json::from_str(&clear("MZ1")).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"event": "clear", "streamSid": "MZ1"})
        );
    }
}

/// Property tests: whatever arrives on the WebSocket is parsed, or refused, without a
/// panic, and a media payload is decoded as the transport decodes it. CI runs 2,000 cases;
/// `./dev fuzz` sets `PROPTEST_CASES` for the long run.
#[cfg(test)]
mod fuzz {
    use super::*;
    use base64::Engine;
    use proptest::prelude::*;
    use proptest::test_runner::Config;

    fn config() -> Config {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(2_000);
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        }
    }

    /// Messages shaped like Twilio's, with any event name and fields.
    fn message() -> impl Strategy<Value = String> {
        let event = prop_oneof![
            Just("connected"),
            Just("start"),
            Just("media"),
            Just("dtmf"),
            Just("mark"),
            Just("stop"),
            Just("other"),
        ];
        let text = "\\PC{0,24}";
        prop_oneof![
            (event, text, text).prop_map(|(event, a, b)| {
                serde_json::json!({"event": event, "streamSid": a,
                    "start": {"streamSid": a, "callSid": b, "customParameters": {a.clone(): b.clone()}},
                    "media": {"payload": b}, "dtmf": {"digit": a}, "mark": {"name": b}})
                .to_string()
            }),
            "\\PC{0,200}",
            prop::collection::vec(any::<u8>(), 0..200)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_message_is_parsed_or_refused_without_panicking(text in message()) {
            if let Ok(Incoming::Media { media }) = serde_json::from_str::<Incoming<'_>>(&text) {
                // As the transport decodes it: audio never outgrows its text.
                if let Ok(audio) = base64::engine::general_purpose::STANDARD.decode(media.payload) {
                    prop_assert!(audio.len() <= media.payload.len() * 3 / 4);
                }
            }
        }

        #[test]
        fn written_messages_read_back(sid in "\\PC{0,24}", name in "\\PC{0,24}") {
            let value: serde_json::Value = serde_json::from_str(&mark(&sid, &name)).unwrap();
            prop_assert_eq!(value["mark"]["name"].as_str(), Some(name.as_str()));
            prop_assert_eq!(value["streamSid"].as_str(), Some(sid.as_str()));
        }
    }
}
