//! The TwiML verbs the emulator obeys, parsed from a `<Response>` document.

use std::collections::BTreeMap;

/// One verb.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    /// `<Say>text</Say>`.
    Say(String),
    /// `<Play>url</Play>`.
    Play(String),
    /// `<Pause length="N"/>` (seconds, default 1).
    Pause(u64),
    /// `<Hangup/>`.
    Hangup,
    /// `<Reject/>`: ends the call.
    Reject,
    /// `<Dial>number</Dial>` or `<Dial><Number>..</Number></Dial>`: a transfer.
    Dial(String),
    /// `<Connect><Stream url=..><Parameter name value/></Stream></Connect>`.
    Stream(StreamVerb),
    /// `<Redirect>url</Redirect>`: fetch and obey another document.
    Redirect(String),
    /// `<Record/>`: record the caller (a voicemail).
    Record(RecordVerb),
    /// A verb the emulator does not act on (recorded and skipped).
    Other(String),
}

/// A bidirectional Media Stream request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamVerb {
    /// The WebSocket URL as written.
    pub url: String,
    /// `<Parameter>`s, delivered in the `start` message's `customParameters`.
    pub parameters: BTreeMap<String, String>,
}

/// `<Record>`'s attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordVerb {
    /// Where the recording's result is posted for the next TwiML (default: this document).
    pub action: Option<String>,
    /// `maxLength`, seconds (default 3600).
    pub max_length_s: u64,
    pub recording_status_callback: Option<String>,
    /// `transcribe="true"`.
    pub transcribe: bool,
    pub transcribe_callback: Option<String>,
}

/// Why a document was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwimlError {
    /// Not well-formed XML.
    #[error("TwiML is not well-formed XML: {0}")]
    Xml(String),
    /// The root is not `<Response>` (Twilio error 12100).
    #[error("TwiML root element is <{0}>, expected <Response>")]
    Root(String),
    /// `<Stream>` without a `url`.
    #[error("<Stream> has no url")]
    StreamUrl,
}

/// Parses a document into its verbs.
pub fn parse(document: &str) -> Result<Vec<Verb>, TwimlError> {
    let doc = roxmltree::Document::parse(document).map_err(|e| TwimlError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Response" {
        return Err(TwimlError::Root(root.tag_name().name().to_string()));
    }
    let mut verbs = Vec::new();
    for node in root.children().filter(|n| n.is_element()) {
        let text = node.text().unwrap_or("").trim().to_string();
        let verb = match node.tag_name().name() {
            "Say" => Verb::Say(text),
            "Play" => Verb::Play(text),
            "Pause" => Verb::Pause(
                node.attribute("length")
                    .and_then(|l| l.trim().parse().ok())
                    .unwrap_or(1),
            ),
            "Hangup" => Verb::Hangup,
            "Reject" => Verb::Reject,
            "Redirect" => Verb::Redirect(text),
            "Record" => {
                let attribute = |name: &str| node.attribute(name).map(str::to_string);
                Verb::Record(RecordVerb {
                    action: attribute("action"),
                    max_length_s: node
                        .attribute("maxLength")
                        .and_then(|l| l.trim().parse().ok())
                        .unwrap_or(3600),
                    recording_status_callback: attribute("recordingStatusCallback"),
                    transcribe: node.attribute("transcribe") == Some("true"),
                    transcribe_callback: attribute("transcribeCallback"),
                })
            }
            "Dial" => {
                let nested = node
                    .children()
                    .find(|c| c.is_element())
                    .and_then(|c| c.text())
                    .map(|t| t.trim().to_string());
                Verb::Dial(nested.unwrap_or(text))
            }
            "Connect" => match node.children().find(|c| c.has_tag_name("Stream")) {
                Some(stream) => Verb::Stream(parse_stream(stream)?),
                None => Verb::Other("Connect".into()),
            },
            other => Verb::Other(other.to_string()),
        };
        verbs.push(verb);
    }
    Ok(verbs)
}

fn parse_stream(node: roxmltree::Node<'_, '_>) -> Result<StreamVerb, TwimlError> {
    let url = node.attribute("url").ok_or(TwimlError::StreamUrl)?;
    let parameters = node
        .children()
        .filter(|c| c.has_tag_name("Parameter"))
        .filter_map(|p| {
            Some((
                p.attribute("name")?.to_string(),
                p.attribute("value")?.to_string(),
            ))
        })
        .collect();
    Ok(StreamVerb {
        url: url.to_string(),
        parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_stream_document_yields_its_url_and_parameters() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
            <Response><Connect><Stream url="wss://w.example/twilio/media">
              <Parameter name="callId" value="c-1"/><Parameter name="token" value="t&amp;k"/>
            </Stream></Connect></Response>"#;
        let verbs = parse(doc).expect("valid");
        let Verb::Stream(stream) = &verbs[0] else {
            panic!("expected a stream, got {verbs:?}");
        };
        assert_eq!(stream.url, "wss://w.example/twilio/media");
        assert_eq!(stream.parameters["callId"], "c-1");
        assert_eq!(stream.parameters["token"], "t&k");
    }

    #[test]
    fn say_pause_dial_and_hangup_come_out_in_order() {
        let doc = "<Response><Say>Hold on</Say><Pause length=\"2\"/>\
                   <Dial><Number>+15550001111</Number></Dial><Hangup/></Response>";
        assert_eq!(
            parse(doc).expect("valid"),
            vec![
                Verb::Say("Hold on".into()),
                Verb::Pause(2),
                Verb::Dial("+15550001111".into()),
                Verb::Hangup
            ]
        );
    }

    #[test]
    fn a_document_without_response_root_is_rejected() {
        assert!(matches!(parse("<Say>x</Say>"), Err(TwimlError::Root(_))));
        assert!(matches!(parse("<Response>"), Err(TwimlError::Xml(_))));
    }
}
