//! One agent reply on its way to the callee's ear: its clauses, its audio, what has been
//! sent and what the far end confirmed it played.
//!
//! Marks sent after every few frames come back when the audio before them played, so
//! `heard_frames` is what the callee really heard. After a `clear` the far end echoes
//! every pending mark at once; the generation number in mark names tells those apart.

use crate::audio::FRAME_SAMPLES;

/// Frames between progress marks (200 ms): the resolution of "what was heard".
const MARK_EVERY: usize = 10;
/// Mu-law silence, for padding a clause's last frame.
const SILENCE: u8 = 0xff;

/// A clause and where its audio sits in the reply.
#[derive(Debug, Clone)]
struct Clause {
    text: String,
    start_frame: usize,
    /// Set once its audio is complete.
    end_frame: Option<usize>,
}

/// The playout state of one reply.
#[derive(Debug)]
pub struct Reply {
    /// Unique within the call (names marks).
    id: u64,
    /// Bumped by every rewind, so marks echoed by a clear are ignored.
    generation: u32,
    /// All audio synthesised so far, mu-law; frames are 160-byte slices.
    audio: Vec<u8>,
    clauses: Vec<Clause>,
    /// Next frame to send.
    next_frame: usize,
    /// Frames the far end confirmed it played.
    heard_frames: usize,
    /// Marks to send after a frame: the frame count they confirm.
    last_mark_at: usize,
}

impl Reply {
    pub fn new(id: u64) -> Self {
        Reply {
            id,
            generation: 0,
            audio: Vec::new(),
            clauses: Vec::new(),
            next_frame: 0,
            heard_frames: 0,
            last_mark_at: 0,
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Starts a clause whose audio will follow.
    pub fn begin_clause(&mut self, text: &str) {
        self.pad_to_frame();
        self.clauses.push(Clause {
            text: text.to_string(),
            start_frame: self.audio.len() / FRAME_SAMPLES,
            end_frame: None,
        });
    }

    /// Appends audio to the current clause.
    pub fn push_audio(&mut self, mulaw: &[u8]) {
        self.audio.extend_from_slice(mulaw);
    }

    /// Ends the current clause (its last frame is padded with silence).
    pub fn end_clause(&mut self) {
        self.pad_to_frame();
        let frames = self.audio.len() / FRAME_SAMPLES;
        if let Some(clause) = self.clauses.last_mut() {
            clause.end_frame.get_or_insert(frames);
        }
    }

    /// Drops a clause whose synthesis failed before any of its audio arrived.
    pub fn abandon_clause(&mut self) {
        if let Some(clause) = self.clauses.last() {
            if clause.end_frame.is_none() && clause.start_frame * FRAME_SAMPLES >= self.audio.len()
            {
                self.clauses.pop();
            } else {
                self.end_clause();
            }
        }
    }

    fn pad_to_frame(&mut self) {
        let rest = self.audio.len() % FRAME_SAMPLES;
        if rest != 0 {
            self.audio
                .resize(self.audio.len() + FRAME_SAMPLES - rest, SILENCE);
        }
    }

    /// Frames synthesised but not yet sent (complete frames only).
    pub fn unsent_frames(&self) -> usize {
        (self.audio.len() / FRAME_SAMPLES).saturating_sub(self.next_frame)
    }

    /// A mark due at the current position: after every `MARK_EVERY` frames and at clause
    /// ends. Marks do not wait for the pacer.
    pub fn take_mark(&mut self) -> Option<String> {
        if !self.mark_due() {
            return None;
        }
        self.last_mark_at = self.next_frame;
        Some(format!(
            "r{}g{}f{}",
            self.id, self.generation, self.next_frame
        ))
    }

    /// Whether the frames sent since the last mark call for one.
    fn mark_due(&self) -> bool {
        let sent = self.next_frame;
        sent > self.last_mark_at
            && (sent - self.last_mark_at >= MARK_EVERY
                || self.clauses.iter().any(|c| c.end_frame == Some(sent)))
    }

    /// The next frame to send, if one is complete.
    pub fn next_frame(&mut self) -> Option<&[u8]> {
        self.next_frames(1)
    }

    /// Up to `max` complete frames to send in one message, never past the next mark (so
    /// a mark still follows exactly the frames it confirms).
    pub fn next_frames(&mut self, max: usize) -> Option<&[u8]> {
        let first = self.next_frame;
        let mut count = self.unsent_frames().min(max.max(1));
        // Frames up to the next progress mark, and up to the next clause end.
        let to_mark = (self.last_mark_at + MARK_EVERY).saturating_sub(first);
        if to_mark > 0 {
            count = count.min(to_mark);
        }
        if let Some(end) = self
            .clauses
            .iter()
            .filter_map(|c| c.end_frame)
            .find(|&end| end > first)
        {
            count = count.min(end - first);
        }
        if count == 0 {
            return None;
        }
        self.next_frame += count;
        Some(&self.audio[first * FRAME_SAMPLES..(first + count) * FRAME_SAMPLES])
    }

    /// Whether anything (a frame or a mark) is waiting to be sent.
    pub fn has_output(&self) -> bool {
        self.unsent_frames() > 0 || self.mark_due()
    }

    /// Whether any audio has been synthesised.
    pub fn has_audio(&self) -> bool {
        !self.audio.is_empty()
    }

    /// A mark came back: returns true if it was this reply's and confirms new audio.
    pub fn mark_played(&mut self, name: &str) -> bool {
        let Some((id, generation, frame)) = parse_mark(name) else {
            return false;
        };
        if id != self.id || generation != self.generation || frame <= self.heard_frames {
            return false;
        }
        self.heard_frames = frame.min(self.next_frame);
        true
    }

    /// For transports that play at once and echo no marks: everything sent is heard.
    pub fn assume_sent_is_heard(&mut self) {
        self.heard_frames = self.next_frame;
    }

    /// After a `clear`: the far end dropped what it held. Sending resumes at the start of
    /// the clause that was cut, so a resumed reply repeats the cut clause whole rather
    /// than starting mid-word.
    pub fn rewind(&mut self) {
        self.generation += 1;
        let heard = self.heard_frames;
        let resume = self
            .clauses
            .iter()
            .filter(|c| c.start_frame <= heard)
            .filter(|c| c.end_frame.is_none_or(|end| end > heard))
            .map(|c| c.start_frame)
            .next_back()
            .unwrap_or(heard);
        self.next_frame = resume;
        self.last_mark_at = resume;
    }

    /// Whether sent audio has not been confirmed played yet.
    pub fn in_flight(&self) -> bool {
        self.next_frame > self.heard_frames
    }

    /// Whether every synthesised frame was heard and every clause is complete.
    pub fn fully_heard(&self) -> bool {
        self.clauses.iter().all(|c| c.end_frame.is_some())
            && self.heard_frames * FRAME_SAMPLES >= self.audio.len()
    }

    /// Milliseconds of audio heard.
    pub fn heard_ms(&self) -> u64 {
        self.heard_frames as u64 * crate::audio::FRAME_MS
    }

    /// Frames sent so far (heard or in flight).
    pub fn sent_frames(&self) -> usize {
        self.next_frame
    }

    /// The text the callee heard: whole clauses, and the heard share of a cut one.
    pub fn heard_text(&self) -> String {
        let heard = self.heard_frames;
        let mut parts = Vec::new();
        for clause in &self.clauses {
            let end = clause.end_frame.unwrap_or(self.audio.len() / FRAME_SAMPLES);
            if end <= heard {
                parts.push(clause.text.clone());
            } else if clause.start_frame < heard {
                let share =
                    (heard - clause.start_frame) as f64 / (end - clause.start_frame).max(1) as f64;
                let words: Vec<&str> = clause.text.split_whitespace().collect();
                let keep = (words.len() as f64 * share).floor() as usize;
                if keep > 0 {
                    parts.push(format!("{}...", words[..keep].join(" ")));
                }
                break;
            } else {
                break;
            }
        }
        parts.join(" ")
    }
}

fn parse_mark(name: &str) -> Option<(u64, u32, usize)> {
    let rest = name.strip_prefix('r')?;
    let (id, rest) = rest.split_once('g')?;
    let (generation, frame) = rest.split_once('f')?;
    Some((
        id.parse().ok()?,
        generation.parse().ok()?,
        frame.parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a pacing loop sends next: frames and marks interleaved.
    #[derive(Debug, PartialEq)]
    enum Next<'a> {
        Frame(&'a [u8]),
        /// A mark confirming frames up to here.
        Mark(String),
        /// Nothing ready (more audio may come).
        Waiting,
    }

    impl Reply {
        fn next_out(&mut self) -> Next<'_> {
            if let Some(mark) = self.take_mark() {
                return Next::Mark(mark);
            }
            match self.next_frame() {
                Some(frame) => Next::Frame(frame),
                None => Next::Waiting,
            }
        }
    }

    fn reply_with(clauses: &[(&str, usize)]) -> Reply {
        let mut reply = Reply::new(7);
        for (text, frames) in clauses {
            reply.begin_clause(text);
            reply.push_audio(&vec![0x55; frames * FRAME_SAMPLES - 10]);
            reply.end_clause();
        }
        reply
    }

    /// Sends everything, returning the marks in order.
    fn send_all(reply: &mut Reply) -> Vec<String> {
        let mut marks = Vec::new();
        loop {
            match reply.next_out() {
                Next::Frame(frame) => assert_eq!(frame.len(), FRAME_SAMPLES),
                Next::Mark(mark) => marks.push(mark),
                Next::Waiting => break,
            }
        }
        marks
    }

    #[test]
    fn batched_frames_stop_at_marks_and_clause_ends() {
        let mut reply = reply_with(&[("Hello there.", 12), ("How are you?", 5)]);
        let mut out = Vec::new();
        loop {
            if let Some(mark) = reply.take_mark() {
                out.push(mark);
                continue;
            }
            match reply.next_frames(3) {
                Some(audio) => out.push(format!("{}", audio.len() / FRAME_SAMPLES)),
                None => break,
            }
        }
        // The same marks as frame by frame, each right after the frames it confirms.
        assert_eq!(
            out,
            ["3", "3", "3", "1", "r7g0f10", "2", "r7g0f12", "3", "2", "r7g0f17"]
        );
    }

    #[test]
    fn marks_confirm_progress_and_clause_ends() {
        let mut reply = reply_with(&[("Hello there.", 12), ("How are you?", 5)]);
        let marks = send_all(&mut reply);
        assert_eq!(marks, vec!["r7g0f10", "r7g0f12", "r7g0f17"]);
        assert_eq!(reply.next_out(), Next::Waiting);
        assert_eq!(reply.heard_text(), "");
        assert!(reply.mark_played("r7g0f12"));
        assert_eq!(reply.heard_text(), "Hello there.");
        assert!(!reply.fully_heard());
        assert!(reply.mark_played("r7g0f17"));
        assert!(reply.fully_heard());
        assert!(!reply.mark_played("r8g0f17"), "another reply's mark");
    }

    #[test]
    fn a_clear_rewinds_to_what_was_heard_and_ignores_the_cleared_marks() {
        let mut reply = reply_with(&[("one two three four five six seven eight", 30)]);
        let marks = send_all(&mut reply);
        assert_eq!(marks.len(), 3);
        assert!(reply.mark_played(&marks[0]));
        reply.rewind();
        assert!(
            !reply.mark_played(&marks[1]),
            "echoed by the clear, not played"
        );
        assert_eq!(reply.heard_text(), "one two...");
        // Resuming repeats the cut clause from its start, with fresh marks.
        assert_eq!(reply.sent_frames(), 0);
        assert_eq!(reply.unsent_frames(), 30);
        assert!(!reply.in_flight());
        let marks = send_all(&mut reply);
        assert_eq!(marks[0], "r7g1f10");
        assert!(!reply.mark_played("r7g1f10"), "already heard");
        assert!(reply.mark_played("r7g1f20"));
        assert_eq!(reply.heard_text(), "one two three four five...");
    }

    #[test]
    fn audio_arriving_in_pieces_is_sent_in_whole_frames() {
        let mut reply = Reply::new(1);
        reply.begin_clause("Hi.");
        reply.push_audio(&[1; 100]);
        assert_eq!(reply.next_out(), Next::Waiting);
        reply.push_audio(&[2; 100]);
        assert!(matches!(reply.next_out(), Next::Frame(f) if f[99] == 1 && f[100] == 2));
        reply.end_clause();
        assert!(matches!(reply.next_out(), Next::Frame(f) if f[39] == 2 && f[40] == SILENCE));
        assert_eq!(reply.next_out(), Next::Mark("r1g0f2".into()));
    }
}
