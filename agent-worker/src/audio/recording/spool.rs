//! The spool file a recording grows in while the call lasts: a WAV header with
//! placeholder sizes, then PCM written by a background task, batch by batch, at each
//! batch's own offset, so neither the audio path nor the runtime waits on the disk.
//!
//! Writing at the batch's offset keeps the timeline exact whatever happens: a stretch
//! with no audio, or a batch dropped because the disk fell behind, is a hole that reads
//! back as zeros, which is silence.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use tokio::fs::File;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::timeline::{Batch, SLOT_BYTES};
use crate::audio::SAMPLE_RATE;

/// Bytes before the PCM.
pub(super) const HEADER_BYTES: u64 = 44;

/// Batches (one second each) waiting for the disk before new ones are dropped.
const QUEUE_BATCHES: usize = 8;

/// The canonical 44-byte header of 16-bit stereo PCM at 8 kHz with `data_bytes` of data.
pub(super) fn wav_header(data_bytes: u32) -> [u8; HEADER_BYTES as usize] {
    const CHANNELS: u16 = 2;
    const BITS: u16 = 16;
    let block_align = CHANNELS * BITS / 8;
    let mut header = [0u8; HEADER_BYTES as usize];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &(36u32.saturating_add(data_bytes)).to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(), // PCM
        &CHANNELS.to_le_bytes(),
        &SAMPLE_RATE.to_le_bytes(),
        &(SAMPLE_RATE * u32::from(block_align)).to_le_bytes(),
        &block_align.to_le_bytes(),
        &BITS.to_le_bytes(),
        b"data",
        &data_bytes.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}

/// Why a batch did not reach the writer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SendError {
    /// The disk is behind; the batch becomes silence.
    Full,
    /// The writer stopped on an I/O error; `finish` reports it.
    WriterGone,
}

/// A spool file and the task writing it.
pub(super) struct Spool {
    path: PathBuf,
    tx: mpsc::Sender<Batch>,
    writer: JoinHandle<std::io::Result<File>>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("path", &self.path).finish()
    }
}

impl Spool {
    /// Creates the file at `path` and starts its writer.
    pub(super) async fn create(path: PathBuf) -> std::io::Result<Self> {
        // Read as well as write: the finished file is uploaded through the same handle.
        let mut file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await?;
        file.write_all(&wav_header(0)).await?;
        let (tx, rx) = mpsc::channel(QUEUE_BATCHES);
        let writer = tokio::spawn(write_batches(file, rx));
        Ok(Self { path, tx, writer })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Hands a batch to the writer without waiting.
    pub(super) fn try_send(&self, batch: Batch) -> Result<(), SendError> {
        self.tx.try_send(batch).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::WriterGone,
        })
    }

    /// Hands a batch to the writer, waiting for room (at the end of the call).
    pub(super) async fn send(&self, batch: Batch) -> Result<(), SendError> {
        self.tx.send(batch).await.map_err(|_| SendError::WriterGone)
    }

    /// Waits for the writer, then writes the real sizes for `slots` of audio; returns the
    /// file, rewound, and its size.
    pub(super) async fn finish(self, slots: u64) -> std::io::Result<(File, u64)> {
        drop(self.tx);
        let mut file = self.writer.await.map_err(std::io::Error::other)??;
        let data = slots * SLOT_BYTES;
        let data_field = u32::try_from(data)
            .map_err(|_| std::io::Error::other("recording too long for a WAV file"))?;
        let size = HEADER_BYTES + data;
        // Covers a last stretch that was never written (its batch dropped) as silence.
        file.set_len(size).await?;
        file.seek(SeekFrom::Start(0)).await?;
        file.write_all(&wav_header(data_field)).await?;
        file.flush().await?;
        file.seek(SeekFrom::Start(0)).await?;
        Ok((file, size))
    }

    /// Stops the writer and deletes the file, in the background when a runtime is there.
    pub(super) fn discard(self) {
        let Spool { path, tx, writer } = self;
        drop(tx);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = writer.await;
                    remove(&path).await;
                });
            }
            Err(_) => {
                writer.abort();
                // No runtime, so nothing to block: plain file-system calls are fine.
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// Deletes a spool file, logging (not failing) when it cannot.
pub(super) async fn remove(path: &Path) {
    if let Err(err) = tokio::fs::remove_file(path).await {
        if err.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %err, "could not delete a recording spool file");
        }
    }
}

async fn write_batches(mut file: File, mut rx: mpsc::Receiver<Batch>) -> std::io::Result<File> {
    let mut position = HEADER_BYTES;
    while let Some(batch) = rx.recv().await {
        let at = HEADER_BYTES + batch.first_slot * SLOT_BYTES;
        if at != position {
            file.seek(SeekFrom::Start(at)).await?;
        }
        file.write_all(&batch.bytes).await?;
        position = at + batch.bytes.len() as u64;
    }
    file.flush().await?;
    Ok(file)
}
