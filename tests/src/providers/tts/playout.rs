//! Sending synthesised audio the way streaming TTS services do: after a first-byte delay,
//! in chunks of a few milliseconds of audio, faster than real time by a set factor; and
//! keeping the request's line in the report up to date as it goes.

use super::format::{AudioFormat, Rendered};
use crate::providers::report::TtsRequestReport;
use crate::providers::state::Shared;
use bytes::{Bytes, BytesMut};
use futures::Stream;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How fast audio goes out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pacing {
    pub first_byte_ms: u64,
    /// Multiple of real time; 0 means no waiting at all.
    pub speed: f64,
    pub chunk_ms: u64,
}

impl Pacing {
    pub(crate) fn from_config(shared: &Shared) -> Self {
        let tts = &shared.config.tts;
        Pacing {
            first_byte_ms: tts.first_byte_ms,
            speed: tts.speed,
            chunk_ms: tts.chunk_ms.max(1),
        }
    }

    /// Bytes per chunk, a whole number of samples.
    pub(crate) fn chunk_bytes(&self, format: AudioFormat) -> usize {
        let samples = (self.chunk_ms * u64::from(format.rate) / 1000).max(1) as usize;
        samples * format.sample_bytes()
    }

    /// When chunk `k` is due, counted from the first.
    pub(crate) fn offset(&self, k: u64) -> Duration {
        if self.speed <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((k * self.chunk_ms) as f64 / 1000.0 / self.speed)
    }
}

/// A TTS request's line in the report. Counts are written when it is dropped, so a
/// client hanging up mid-stream still leaves an accurate record.
pub(crate) struct TtsRecord {
    shared: Arc<Shared>,
    index: usize,
    received: Instant,
    bytes: u64,
    completed: bool,
    cleared: bool,
}

impl TtsRecord {
    /// Adds `report` to the report and tracks it.
    pub(crate) fn open(shared: &Arc<Shared>, report: TtsRequestReport) -> Self {
        let index = {
            let mut all = shared.report();
            all.tts.push(report);
            all.tts.len() - 1
        };
        TtsRecord {
            shared: shared.clone(),
            index,
            received: Instant::now(),
            bytes: 0,
            completed: false,
            cleared: false,
        }
    }

    fn update(&self, f: impl FnOnce(&mut TtsRequestReport)) {
        if let Some(r) = self.shared.report().tts.get_mut(self.index) {
            f(r);
        }
    }

    /// `n` audio bytes were handed to the connection.
    pub(crate) fn sent(&mut self, n: usize) {
        if self.bytes == 0 && n > 0 {
            let ms = self.received.elapsed().as_millis() as u64;
            self.update(|r| r.first_byte_ms = Some(ms));
        }
        self.bytes += n as u64;
    }

    /// All audio went out.
    pub(crate) fn complete(&mut self) {
        self.completed = true;
    }

    /// The rest was dropped by a Clear.
    pub(crate) fn clear(&mut self) {
        self.cleared = true;
    }
}

impl Drop for TtsRecord {
    fn drop(&mut self) {
        let (bytes, completed, cleared) = (self.bytes, self.completed, self.cleared);
        self.update(|r| {
            r.bytes_sent = bytes;
            r.completed = completed;
            r.cleared = cleared;
        });
    }
}

struct State {
    shared: Arc<Shared>,
    pacing: Pacing,
    chunk: usize,
    header: Bytes,
    audio: Bytes,
    pos: usize,
    k: u64,
    start: Option<Instant>,
    /// Bytes after which the connection is cut (an injected drop).
    limit: Option<usize>,
    done: bool,
    record: TtsRecord,
}

/// The response body: `rendered` in `format`, paced, cut after `drop_after_ms` of audio if
/// set. Ends with an error (which aborts the connection) when cut or on shutdown.
pub(crate) fn body(
    shared: Arc<Shared>,
    rendered: Rendered,
    format: AudioFormat,
    drop_after_ms: Option<u64>,
    record: TtsRecord,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let pacing = Pacing::from_config(&shared);
    let limit = drop_after_ms.map(|ms| {
        let samples = (ms as f64 * format.bytes_per_ms()) as usize / format.sample_bytes();
        samples * format.sample_bytes()
    });
    let state = State {
        shared,
        pacing,
        chunk: pacing.chunk_bytes(format),
        header: format.header(),
        audio: rendered.audio,
        pos: 0,
        k: 0,
        start: None,
        limit,
        done: false,
        record,
    };
    futures::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        if s.start.is_none() {
            if !s.shared.sleep_ms(s.pacing.first_byte_ms).await {
                return None;
            }
            s.start = Some(Instant::now());
        }
        if s.limit.is_some_and(|limit| s.pos >= limit) {
            s.done = true;
            return Some((Err(crate::providers::cut_connection().await), s));
        }
        if s.pos >= s.audio.len() {
            s.record.complete();
            return None;
        }
        let due = s.start.unwrap_or_else(Instant::now) + s.pacing.offset(s.k);
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            _ = s.shared.closed() => {
                s.done = true;
                return Some((Err(std::io::Error::other("emulator shutting down")), s));
            }
        }
        let end = (s.pos + s.chunk)
            .min(s.audio.len())
            .min(s.limit.unwrap_or(usize::MAX));
        let audio = s.audio.slice(s.pos..end);
        s.record.sent(audio.len());
        s.pos = end;
        s.k += 1;
        let out = if s.header.is_empty() {
            audio
        } else {
            let mut first = BytesMut::from(&std::mem::take(&mut s.header)[..]);
            first.extend_from_slice(&audio);
            first.freeze()
        };
        Some((Ok(out), s))
    })
}
