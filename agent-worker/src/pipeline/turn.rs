//! The callee's side of turn taking: collecting final transcripts and deciding when the
//! callee has finished, from STT endpointing, VAD silence, or both.

use super::config::TurnEnd;
use std::time::Instant;

/// What the callee has said since the agent last answered.
#[derive(Debug, Default)]
pub struct CalleeTurn {
    /// Final transcript pieces, in order.
    pieces: Vec<String>,
    /// The STT provider said the speech is final.
    stt_ended: bool,
    /// The VAD saw silence after the speech.
    vad_ended: bool,
    /// When the last speech frame arrived (for latency).
    pub last_speech_at: Option<Instant>,
    /// When the VAD last declared the speech over (for the turn's stage marks).
    pub vad_end_at: Option<Instant>,
    /// When the first final of the turn arrived.
    pub first_final_at: Option<Instant>,
    /// When the final that completed the text arrived.
    pub last_final_at: Option<Instant>,
}

impl CalleeTurn {
    /// A final transcript piece.
    pub fn add_final(&mut self, text: &str, speech_final: bool, now: Instant) {
        let text = text.trim();
        if !text.is_empty() {
            self.pieces.push(text.to_string());
            self.first_final_at.get_or_insert(now);
            self.last_final_at = Some(now);
        }
        if speech_final {
            self.stt_ended = true;
        }
    }

    /// The provider's utterance end (silence after the last word).
    pub fn stt_utterance_end(&mut self) {
        self.stt_ended = true;
    }

    /// The VAD saw the speech stop.
    pub fn vad_speech_end(&mut self, now: Instant) {
        self.vad_ended = true;
        self.vad_end_at = Some(now);
    }

    /// The callee started speaking again: the turn is not over.
    pub fn speech_resumed(&mut self) {
        self.stt_ended = false;
        self.vad_ended = false;
    }

    /// Whether the callee's turn is over under `rule`.
    pub fn is_complete(&self, rule: TurnEnd) -> bool {
        if self.pieces.is_empty() {
            return false;
        }
        match rule {
            TurnEnd::Stt => self.stt_ended,
            TurnEnd::Vad => self.vad_ended,
            TurnEnd::Either => self.stt_ended || self.vad_ended,
        }
    }

    /// Whether anything was said.
    pub fn has_text(&self) -> bool {
        !self.pieces.is_empty()
    }

    /// The words so far.
    pub fn text(&self) -> String {
        self.pieces.join(" ")
    }

    /// Words so far.
    pub fn word_count(&self) -> usize {
        self.pieces
            .iter()
            .map(|p| p.split_whitespace().count())
            .sum()
    }

    /// Takes the turn, leaving an empty one.
    pub fn take(&mut self) -> CalleeTurn {
        std::mem::take(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_needs_words_and_an_end_signal() {
        let now = Instant::now();
        let mut turn = CalleeTurn::default();
        turn.vad_speech_end(now);
        assert!(
            !turn.is_complete(TurnEnd::Either),
            "silence alone is no turn"
        );
        turn.add_final("my code is", false, now);
        assert!(turn.is_complete(TurnEnd::Vad));
        assert!(!turn.is_complete(TurnEnd::Stt));
        turn.speech_resumed();
        assert!(!turn.is_complete(TurnEnd::Either));
        turn.add_final("token-17", true, now);
        assert!(turn.is_complete(TurnEnd::Stt));
        assert_eq!(turn.text(), "my code is token-17");
        assert_eq!(turn.word_count(), 4);
        let taken = turn.take();
        assert!(taken.has_text());
        assert!(!turn.has_text());
    }
}
