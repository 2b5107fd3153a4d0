//! A server-sent events parser for streamed HTTP bodies.
//!
//! Bodies arrive in chunks split anywhere: inside a line, between `\r` and `\n`, inside a
//! multi-byte character. Bytes wait in a buffer until a whole line is there, so text is
//! decoded only on line boundaries (which never split a character). Comment lines (`:`
//! keep-alives) and fields other than `data` are skipped; several `data` lines of one
//! event are joined with `\n`, as the spec says.

/// One event's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if the server named the event.
    pub event: Option<String>,
    pub data: String,
}

/// Incremental parser: `push` chunks, take the events that completed.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    /// Start of the first unread byte in `buffer`.
    read: usize,
    data: Option<String>,
    event: Option<String>,
    /// An event's data grew past [`MAX_LINE`] (many `data:` lines, never the blank line
    /// that ends the event): it was dropped and the body is refused.
    overflow: bool,
}

/// A buffer this large without a line end is not SSE.
const MAX_LINE: usize = 1 << 20;

/// The body is not SSE (a line, or one event's data, longer than any sane event).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event stream line or event longer than {MAX_LINE} bytes")]
pub struct SseError;

impl SseParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some((end, next)) = self.line_end(false) {
            let line = String::from_utf8_lossy(&self.buffer[self.read..end]).into_owned();
            self.read = next;
            self.take_line(&line, &mut events);
        }
        self.buffer.drain(..self.read);
        self.read = 0;
        if self.buffer.len() > MAX_LINE || self.overflow {
            return Err(SseError);
        }
        Ok(events)
    }

    /// The body ended: a last line without its line end, and an event without its blank
    /// line, still count (servers do end like that).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if self.read < self.buffer.len() {
            let end = self
                .line_end(true)
                .map_or(self.buffer.len(), |(end, _)| end);
            let line = String::from_utf8_lossy(&self.buffer[self.read..end]).into_owned();
            self.take_line(&line, &mut events);
        }
        self.buffer.clear();
        self.read = 0;
        self.dispatch(&mut events);
        events
    }

    /// Where the next line ends and the one after starts. A `\r` as the last byte may be
    /// half of `\r\n`, so it waits for more input unless the body has ended.
    fn line_end(&self, at_eof: bool) -> Option<(usize, usize)> {
        let rest = &self.buffer[self.read..];
        let offset = rest.iter().position(|&b| b == b'\n' || b == b'\r')?;
        let end = self.read + offset;
        if rest[offset] == b'\n' {
            return Some((end, end + 1));
        }
        match rest.get(offset + 1) {
            Some(b'\n') => Some((end, end + 2)),
            Some(_) => Some((end, end + 1)),
            None if at_eof => Some((end, end + 1)),
            None => None,
        }
    }

    fn take_line(&mut self, line: &str, events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) if data.len() + 1 + value.len() > MAX_LINE => {
                    self.data = None;
                    self.overflow = true;
                }
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            "event" => self.event = Some(value.to_string()),
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if let Some(data) = self.data.take() {
            events.push(SseEvent { event, data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    const BODY: &str = ": keep-alive\r\n\r\ndata: {\"a\":\"h\u{e9}llo \u{1f600}\"}\r\n\r\nevent: x\ndata: line1\ndata:line2\n\n: ping\n\ndata: [DONE]\n\n";

    fn expected() -> Vec<&'static str> {
        vec!["{\"a\":\"h\u{e9}llo \u{1f600}\"}", "line1\nline2", "[DONE]"]
    }

    #[test]
    fn a_whole_body_parses_with_comments_skipped_and_data_lines_joined() {
        let mut parser = SseParser::new();
        let events = parser.push(BODY.as_bytes()).unwrap();
        assert_eq!(data(&events), expected());
        assert_eq!(events[1].event.as_deref(), Some("x"));
        assert!(parser.finish().is_empty());
    }

    #[test]
    fn every_split_point_and_byte_by_byte_give_the_same_events() {
        let bytes = BODY.as_bytes();
        for split in 0..=bytes.len() {
            let mut parser = SseParser::new();
            let mut events = parser.push(&bytes[..split]).unwrap();
            events.extend(parser.push(&bytes[split..]).unwrap());
            events.extend(parser.finish());
            assert_eq!(data(&events), expected(), "split at {split}");
        }
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for byte in bytes {
            events.extend(parser.push(std::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(data(&events), expected());
    }

    #[test]
    fn lone_carriage_returns_end_lines_too() {
        let mut parser = SseParser::new();
        let mut events = parser.push(b"data: a\r\rdata: b\r").unwrap();
        assert_eq!(data(&events), ["a"]);
        events.extend(parser.push(b"\r").unwrap());
        events.extend(parser.finish());
        assert_eq!(data(&events), ["a", "b"]);
    }

    #[test]
    fn a_body_ending_without_its_blank_line_still_yields_its_last_event() {
        let mut parser = SseParser::new();
        assert!(parser.push(b"data: [DONE]").unwrap().is_empty());
        assert_eq!(data(&parser.finish()), ["[DONE]"]);
    }

    #[test]
    fn a_body_that_is_not_sse_is_refused_instead_of_buffered_forever() {
        let mut parser = SseParser::new();
        let junk = vec![b'x'; MAX_LINE + 1];
        assert_eq!(parser.push(&junk), Err(SseError));
    }
}
