//! The TwiML documents we hand Twilio.

/// `<Connect><Stream>` to the worker, with `<Parameter>`s (never a query string on the
/// stream URL: Twilio refuses it with 31922). Nothing follows `</Connect>`, so the call
/// ends when the worker closes the stream.
pub fn connect_stream(stream_url: &str, parameters: &[(&str, &str)]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Connect>");
    out.push_str(&format!("<Stream url=\"{}\">", escape(stream_url)));
    for (name, value) in parameters {
        out.push_str(&format!(
            "<Parameter name=\"{}\" value=\"{}\"/>",
            escape(name),
            escape(value)
        ));
    }
    out.push_str("</Stream></Connect></Response>");
    out
}

/// Speaks `message` and hangs up (voicemail drop when the worker is not on the call).
pub fn say_and_hang_up(message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>{}</Say><Hangup/></Response>",
        escape(message)
    )
}

/// Bridges the callee to `number` (a transfer).
pub fn dial(number: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial>{}</Dial></Response>",
        escape(number)
    )
}

/// XML-escapes text for an attribute or an element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_carries_parameters_not_a_query_string() {
        let xml = connect_stream(
            "wss://w.example/twilio/media",
            &[("callId", "c1"), ("token", "a&b")],
        );
        assert!(xml.contains("<Stream url=\"wss://w.example/twilio/media\">"));
        assert!(xml.contains("<Parameter name=\"token\" value=\"a&amp;b\"/>"));
        assert!(xml.ends_with("</Stream></Connect></Response>"));
    }

    #[test]
    fn spoken_text_is_escaped() {
        assert!(say_and_hang_up("Tom & <Jerry>").contains("Tom &amp; &lt;Jerry&gt;"));
    }
}
