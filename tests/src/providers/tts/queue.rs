//! Audio waiting to go out on a TTS WebSocket, paced like the REST streams and clearable
//! at any moment: both socket APIs (Deepgram Aura, ElevenLabs stream-input) queue each
//! generation's chunks followed by a marker, and take the next item when it is due.

use super::format::{AudioFormat, Rendered};
use super::playout::{Pacing, TtsRecord};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

enum Item {
    Audio { generation: u64, bytes: Bytes },
    Marker(u64),
}

/// What is due now.
pub(crate) enum Due {
    /// Audio to send; `cut` when an injected drop says to break the connection after it.
    Audio { bytes: Bytes, cut: bool },
    /// A marker queued behind audio (`Flushed`, `isFinal`) has been reached.
    Marker(u64),
}

/// The queue of one socket.
pub(crate) struct AudioQueue {
    pacing: Pacing,
    format: AudioFormat,
    items: VecDeque<Item>,
    next_due: Instant,
    records: HashMap<u64, TtsRecord>,
    /// Audio bytes sent, and the total after which an injected drop cuts.
    sent: u64,
    drop_after: Option<u64>,
}

impl AudioQueue {
    /// `drop_after_ms`: milliseconds of audio after which the connection is cut.
    pub(crate) fn new(pacing: Pacing, format: AudioFormat, drop_after_ms: Option<u64>) -> Self {
        AudioQueue {
            pacing,
            format,
            items: VecDeque::new(),
            next_due: Instant::now(),
            records: HashMap::new(),
            sent: 0,
            drop_after: drop_after_ms.map(|ms| (ms as f64 * format.bytes_per_ms()) as u64),
        }
    }

    /// Queues one generation's audio; its report line is completed when the marker with
    /// the same number is reached.
    pub(crate) fn push_audio(&mut self, generation: u64, rendered: Rendered, record: TtsRecord) {
        if self.items.is_empty() {
            self.next_due = Instant::now() + Duration::from_millis(self.pacing.first_byte_ms);
        }
        self.records.insert(generation, record);
        let chunk = self.pacing.chunk_bytes(self.format);
        let audio = rendered.audio;
        let mut at = 0;
        while at < audio.len() {
            let end = (at + chunk).min(audio.len());
            self.items.push_back(Item::Audio {
                generation,
                bytes: audio.slice(at..end),
            });
            at = end;
        }
    }

    /// Queues a marker behind the audio so far.
    pub(crate) fn push_marker(&mut self, id: u64) {
        self.items.push_back(Item::Marker(id));
    }

    /// Drops everything not yet sent; the generations in flight are recorded as cleared.
    pub(crate) fn clear(&mut self) {
        self.items.clear();
        for (_, mut record) in self.records.drain() {
            record.clear();
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// When the next item is due, if there is one.
    pub(crate) fn due_at(&self) -> Option<Instant> {
        (!self.items.is_empty()).then_some(self.next_due)
    }

    /// Takes the next item (call when [`Self::due_at`] has passed).
    pub(crate) fn next(&mut self) -> Option<Due> {
        match self.items.pop_front()? {
            Item::Marker(id) => {
                if let Some(mut record) = self.records.remove(&id) {
                    record.complete();
                }
                Some(Due::Marker(id))
            }
            Item::Audio {
                generation,
                mut bytes,
            } => {
                let room = self.drop_after.map(|limit| limit.saturating_sub(self.sent));
                let cut = room.is_some_and(|room| bytes.len() as u64 >= room);
                if let (true, Some(room)) = (cut, room) {
                    bytes.truncate(room as usize);
                }
                self.sent += bytes.len() as u64;
                if let Some(record) = self.records.get_mut(&generation) {
                    record.sent(bytes.len());
                }
                self.next_due = if self.pacing.speed > 0.0 {
                    self.next_due + self.pacing.offset(1)
                } else {
                    Instant::now()
                };
                Some(Due::Audio { bytes, cut })
            }
        }
    }
}
