//! Splits the LLM's streamed reply into clauses, so each clause can go to TTS as soon as
//! it is complete and the first audio starts long before the reply is.

/// Shortest clause worth a TTS request at a comma: a lone "Well," sounds choppy.
const MIN_COMMA_CLAUSE: usize = 16;
/// A clause with no punctuation is cut at a word boundary past this length, so a model
/// that never punctuates still streams.
const MAX_CLAUSE: usize = 180;

/// Collects tokens and hands out complete clauses.
#[derive(Debug, Default)]
pub struct ClauseSplitter {
    buffer: String,
}

impl ClauseSplitter {
    /// Adds a token; returns the clauses it completed, in order.
    pub fn push(&mut self, token: &str) -> Vec<String> {
        self.buffer.push_str(token);
        let mut out = Vec::new();
        while let Some(end) = self.boundary() {
            let rest = self.buffer.split_off(end);
            let clause = std::mem::replace(&mut self.buffer, rest);
            let clause = clause.trim();
            if !clause.is_empty() {
                out.push(clause.to_string());
            }
        }
        out
    }

    /// The text left when the reply ends.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buffer);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_string())
    }

    /// Byte index just past the first clause boundary, if the buffer holds one. A stop
    /// needs the following whitespace, so "3.5" or "e.g." mid-token is not cut.
    fn boundary(&self) -> Option<usize> {
        let bytes = self.buffer.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let followed_by_space = bytes.get(i + 1).is_some_and(u8::is_ascii_whitespace);
            let strong = matches!(b, b'.' | b'!' | b'?' | b';' | b':');
            if strong && followed_by_space && i >= 1 {
                return Some(i + 1);
            }
            if b == b',' && followed_by_space && i + 1 >= MIN_COMMA_CLAUSE {
                return Some(i + 1);
            }
        }
        if self.buffer.len() > MAX_CLAUSE {
            return self.buffer[..MAX_CLAUSE].rfind(' ').filter(|&at| at > 0);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(tokens: &[&str]) -> Vec<String> {
        let mut splitter = ClauseSplitter::default();
        let mut out: Vec<String> = tokens.iter().flat_map(|t| splitter.push(t)).collect();
        out.extend(splitter.finish());
        out
    }

    #[test]
    fn sentences_come_out_as_soon_as_they_end() {
        let mut splitter = ClauseSplitter::default();
        assert!(splitter.push("Got it").is_empty());
        assert!(splitter.push(", you said").is_empty());
        assert_eq!(
            splitter.push(" token-17. What"),
            vec!["Got it, you said token-17."]
        );
        assert!(splitter.push(" else?").is_empty());
        assert_eq!(splitter.finish().as_deref(), Some("What else?"));
    }

    #[test]
    fn short_comma_phrases_stay_with_their_sentence() {
        assert_eq!(
            split(&["Well, ", "that is fine. ", "Thanks"]),
            vec!["Well, that is fine.", "Thanks"]
        );
        assert_eq!(
            split(&["I understand completely, ", "and I will note it."]),
            vec!["I understand completely,", "and I will note it."]
        );
    }

    #[test]
    fn numbers_and_unpunctuated_runs_are_handled() {
        assert_eq!(
            split(&["It costs 3.5 dollars."]),
            vec!["It costs 3.5 dollars."]
        );
        let long = "word ".repeat(60);
        let clauses = split(&[&long]);
        assert!(clauses.len() >= 2);
        assert!(clauses.iter().all(|c| c.len() <= MAX_CLAUSE));
        assert_eq!(clauses.join(" "), long.trim());
    }
}
