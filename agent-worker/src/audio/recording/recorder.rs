//! [`CallRecorder`]: one call's recording, from its first frame to the stored file.

use std::sync::Arc;
use std::time::Instant;

use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};
use tokio::fs::File;
use tokio::io::AsyncReadExt;

use super::spool::{self, SendError, Spool};
use super::timeline::{Timeline, TimelineStats, Track};
use super::{RecordingError, StoredRecording};
use crate::audio::FRAME_MS;

/// Slots held open for late frames: one second.
const WINDOW_SLOTS: u64 = 50;
/// Slots per batch handed to the spool writer: one second (32 KB).
const BATCH_SLOTS: u64 = 50;
/// Frames past this slot (six hours) are ignored, so a wild slot number cannot make an
/// enormous file.
const MAX_SLOTS: u64 = 6 * 3600 * 1000 / FRAME_MS;
/// Read size when uploading the spool file.
const READ_BYTES: usize = 64 * 1024;

/// What became of the frames pushed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Frames the timeline did not take.
    pub timeline: TimelineStats,
    /// Seconds of audio dropped because the disk fell behind (they are silence).
    pub dropped_batches: u64,
}

/// One call's recording. Pushing a frame never waits: it copies 160 samples into the
/// timeline and, once a second, hands a batch to the spool writer. Share it between the
/// inbound and outbound tasks behind a `std::sync::Mutex` (held only for a push).
///
/// Dropped without [`finish`](Self::finish), it deletes its spool file.
#[derive(Debug)]
pub struct CallRecorder {
    /// `None` once finished.
    spool: Option<Spool>,
    store: Arc<dyn ObjectStore>,
    key: Path,
    upload_part_bytes: usize,
    media_start: Instant,
    timeline: Timeline,
    dropped_batches: u64,
}

impl CallRecorder {
    pub(super) fn new(
        spool: Spool,
        store: Arc<dyn ObjectStore>,
        key: Path,
        upload_part_bytes: usize,
        media_start: Instant,
    ) -> Self {
        Self {
            spool: Some(spool),
            store,
            key,
            upload_part_bytes,
            media_start,
            timeline: Timeline::new(WINDOW_SLOTS, BATCH_SLOTS, MAX_SLOTS),
            dropped_batches: 0,
        }
    }

    /// The 20 ms slot `at` falls in, counted from the media start.
    pub fn slot_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.media_start).as_millis() as u64 / FRAME_MS
    }

    /// Records one 20 ms mu-law frame of `track` in `slot`.
    pub fn push(&mut self, track: Track, slot: u64, frame: &[u8]) {
        self.timeline.push(track, slot, frame);
        while let Some(batch) = self.timeline.take_batch() {
            let Some(spool) = &self.spool else { return };
            match spool.try_send(batch) {
                Ok(()) | Err(SendError::WriterGone) => {}
                Err(SendError::Full) => {
                    self.dropped_batches += 1;
                    tracing::warn!(
                        key = %self.key,
                        dropped = self.dropped_batches,
                        "recording spool is behind; a second of audio becomes silence"
                    );
                }
            }
        }
    }

    /// Records one frame of `track` that belongs at `at` (an arrival or send time).
    pub fn push_at(&mut self, track: Track, at: Instant, frame: &[u8]) {
        self.push(track, self.slot_at(at), frame);
    }

    /// What became of the frames so far.
    pub fn stats(&self) -> RecorderStats {
        RecorderStats {
            timeline: self.timeline.stats(),
            dropped_batches: self.dropped_batches,
        }
    }

    /// Completes the file and stores it; the spool file is deleted once stored, and kept
    /// (named in the error) when the upload fails.
    pub async fn finish(mut self) -> Result<StoredRecording, RecordingError> {
        let Some(spool) = self.spool.take() else {
            unreachable!("only finish() takes the spool, and it consumes the recorder")
        };
        let path = spool.path().to_path_buf();
        let spool_error = |source| RecordingError::Spool {
            path: path.clone(),
            source,
        };
        let slots = self.timeline.finish();
        let mut batches_ok = true;
        while let Some(batch) = self.timeline.take_batch() {
            batches_ok &= spool.send(batch).await.is_ok();
        }
        let finished = spool.finish(slots).await;
        let (mut file, size) = match finished {
            Ok(done) if batches_ok => done,
            Ok(_) => {
                spool::remove(&path).await;
                return Err(spool_error(std::io::Error::other(
                    "the spool writer stopped",
                )));
            }
            Err(err) => {
                spool::remove(&path).await;
                return Err(spool_error(err));
            }
        };
        match self.upload(&mut file).await {
            Ok(()) => {}
            Err(UploadError::Read(err)) => {
                spool::remove(&path).await;
                return Err(spool_error(err));
            }
            Err(UploadError::Store(source)) => {
                tracing::error!(key = %self.key, spool = %path.display(), error = %source,
                    "could not store a recording; its spool file is kept");
                return Err(RecordingError::Upload {
                    key: self.key.to_string(),
                    spool: path,
                    source,
                });
            }
        }
        drop(file);
        spool::remove(&path).await;
        Ok(StoredRecording {
            location: self.key.to_string(),
            format: "wav".to_string(),
            channels: 2,
            duration_sec: (slots * FRAME_MS) as f64 / 1000.0,
            size_bytes: size as i64,
        })
    }

    /// Streams the file to the store in parts, one at a time: the next part is filled only
    /// once the last is stored, so memory stays at one part however long the call was.
    async fn upload(&self, file: &mut File) -> Result<(), UploadError> {
        let upload = self
            .store
            .put_multipart(&self.key)
            .await
            .map_err(UploadError::Store)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.upload_part_bytes);
        let mut buffer = vec![0u8; READ_BYTES];
        loop {
            let read = match file.read(&mut buffer).await {
                Ok(0) => break,
                Ok(read) => read,
                Err(err) => {
                    let _ = writer.abort().await;
                    return Err(UploadError::Read(err));
                }
            };
            if let Err(err) = writer.wait_for_capacity(0).await {
                let _ = writer.abort().await;
                return Err(UploadError::Store(err));
            }
            writer.write(&buffer[..read]);
        }
        writer.finish().await.map_err(UploadError::Store)?;
        Ok(())
    }
}

enum UploadError {
    Read(std::io::Error),
    Store(object_store::Error),
}

impl Drop for CallRecorder {
    fn drop(&mut self) {
        if let Some(spool) = self.spool.take() {
            spool.discard();
        }
    }
}
