//! The agent's audio waiting for the wire. The pipeline's pacer sends a little ahead of
//! real time; the room sends one frame per 20 ms tick from this queue, so a barge-in's
//! `clear` drops only what has not gone out, and a mark comes back (as a Twilio mark
//! does) when the audio before it has been sent, or was cleared.

use std::collections::VecDeque;

use bytes::Bytes;

/// One entry of the queue.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Frame(Bytes),
    Mark(String),
}

/// What one tick takes from the queue.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Tick {
    /// The frame to send now; `None` means silence.
    pub(super) frame: Option<Bytes>,
    /// Marks whose audio has now all been sent.
    pub(super) marks: Vec<String>,
}

/// Frames and marks in the order the pipeline sent them.
#[derive(Debug, Default)]
pub(super) struct Playout {
    queue: VecDeque<Item>,
    frames: usize,
}

impl Playout {
    pub(super) fn push_frame(&mut self, frame: Bytes) {
        self.frames += 1;
        self.queue.push_back(Item::Frame(frame));
    }

    pub(super) fn push_mark(&mut self, name: String) {
        self.queue.push_back(Item::Mark(name));
    }

    /// Frames not sent yet.
    pub(super) fn frames(&self) -> usize {
        self.frames
    }

    /// Takes the next frame and the marks reached before and right after it.
    pub(super) fn tick(&mut self) -> Tick {
        let mut tick = Tick::default();
        while let Some(item) = self.queue.pop_front() {
            match item {
                Item::Mark(name) => tick.marks.push(name),
                Item::Frame(frame) if tick.frame.is_none() => {
                    self.frames -= 1;
                    tick.frame = Some(frame);
                }
                Item::Frame(frame) => {
                    self.queue.push_front(Item::Frame(frame));
                    break;
                }
            }
        }
        tick
    }

    /// Drops every unsent frame; returns the marks, which count as played.
    pub(super) fn clear(&mut self) -> Vec<String> {
        self.frames = 0;
        self.queue
            .drain(..)
            .filter_map(|item| match item {
                Item::Mark(name) => Some(name),
                Item::Frame(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n; 160])
    }

    #[test]
    fn marks_come_back_once_the_audio_before_them_went_out() {
        let mut playout = Playout::default();
        playout.push_frame(frame(1));
        playout.push_frame(frame(2));
        playout.push_mark("a".into());
        playout.push_frame(frame(3));
        playout.push_mark("b".into());
        assert_eq!(playout.frames(), 3);
        let first = playout.tick();
        assert_eq!(first.frame, Some(frame(1)));
        assert!(first.marks.is_empty());
        assert_eq!(playout.tick().marks, vec!["a".to_string()]);
        let third = playout.tick();
        assert_eq!(third.frame, Some(frame(3)));
        assert_eq!(third.marks, vec!["b".to_string()]);
        assert_eq!(playout.tick(), Tick::default());
    }

    #[test]
    fn clear_drops_unsent_frames_and_returns_their_marks() {
        let mut playout = Playout::default();
        playout.push_frame(frame(1));
        playout.push_mark("a".into());
        playout.push_frame(frame(2));
        playout.push_mark("b".into());
        let first = playout.tick();
        assert_eq!(first.frame, Some(frame(1)));
        assert_eq!(first.marks, vec!["a".to_string()]);
        assert_eq!(playout.clear(), vec!["b".to_string()]);
        assert_eq!(playout.frames(), 0);
        assert_eq!(playout.tick(), Tick::default());
    }
}
