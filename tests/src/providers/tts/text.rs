//! What text the speech code can say: ASCII, at most 255 bytes per utterance.
//!
//! Typographic punctuation that language models like to produce (curly quotes, dashes,
//! ellipses, non-breaking spaces) is mapped to its ASCII form, since a listener would hear
//! no difference; anything else outside ASCII is refused rather than replaced, so a test
//! never hears something other than what was asked.

/// Longest text one utterance of the speech code carries.
pub(crate) const MAX_UTTERANCE: usize = 255;

/// Why a text cannot be spoken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TextError {
    /// Nothing to say.
    #[error("text is empty")]
    Empty,
    /// A character with no ASCII equivalent.
    #[error("character {0:?} cannot be spoken: the emulator's speech code carries ASCII only")]
    Unsupported(char),
}

/// The ASCII form of `text`, or the first character that has none.
pub(crate) fn to_ascii(text: &str) -> Result<String, TextError> {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c.is_ascii() => out.push(c),
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{02BC}' => {
                out.push('\'')
            }
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}'
            | '\u{00BB}' => out.push('"'),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push('-'),
            '\u{2026}' => out.push_str("..."),
            '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => out.push(' '),
            // Zero-width characters are inaudible.
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
            other => return Err(TextError::Unsupported(other)),
        }
    }
    if out.trim().is_empty() {
        return Err(TextError::Empty);
    }
    Ok(out)
}

/// Splits ASCII `text` into utterances of at most [`MAX_UTTERANCE`] bytes, at the last
/// whitespace that fits (the whitespace itself is dropped: the pause replaces it). A word
/// longer than an utterance is cut.
pub(crate) fn utterances(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > MAX_UTTERANCE {
        // Byte MAX_UTTERANCE is looked at too: a space right after a full utterance is a
        // clean cut. ASCII, so every index is a char boundary.
        let window = &rest[..=MAX_UTTERANCE];
        let (head, tail) = match window.rfind(|c: char| c.is_ascii_whitespace()) {
            Some(i) if i > 0 => (&rest[..i], &rest[i..]),
            _ => rest.split_at(MAX_UTTERANCE),
        };
        let head = head.trim_end();
        if !head.is_empty() {
            out.push(head);
        }
        rest = tail.trim_start();
    }
    if !rest.trim().is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typographic_punctuation_becomes_ascii_and_the_rest_is_refused() {
        assert_eq!(
            to_ascii("It\u{2019}s \u{201C}fine\u{201D} \u{2014} really\u{2026}").as_deref(),
            Ok("It's \"fine\" - really...")
        );
        assert_eq!(to_ascii("caf\u{e9}"), Err(TextError::Unsupported('\u{e9}')));
        assert_eq!(to_ascii(" \u{00A0} "), Err(TextError::Empty));
    }

    #[test]
    fn long_text_splits_at_word_boundaries_into_short_enough_pieces() {
        let words: Vec<String> = (0..120).map(|i| format!("word{i}")).collect();
        let text = words.join(" ");
        let pieces = utterances(&text);
        assert!(pieces.len() >= 3);
        assert!(pieces.iter().all(|p| p.len() <= MAX_UTTERANCE));
        assert_eq!(pieces.join(" "), text);
        assert_eq!(utterances("short one"), vec!["short one"]);
    }

    #[test]
    fn a_word_longer_than_an_utterance_is_cut() {
        let text = "x".repeat(600);
        let pieces = utterances(&text);
        assert_eq!(
            pieces.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [255, 255, 90]
        );
    }
}
