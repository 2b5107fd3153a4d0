//! Stereo call recordings: the callee on the left channel, the agent on the right, 8 kHz
//! 16-bit PCM WAV, stored through `object_store` under `recordings/{org}/{call}.wav`.
//!
//! A call's [`CallRecorder`] aligns both sides on one timeline of 20 ms slots
//! (`timeline`) and streams the PCM to a spool file as it goes (`spool`), so a call
//! holds about 64 KB of audio in memory whatever its length (at most about 320 KB while
//! the disk is behind). At the end the header gets its real sizes and the file is
//! uploaded, one part (`upload_part_bytes`) in memory at a time, then deleted.

mod recorder;
mod spool;
#[cfg(test)]
mod tests;
mod timeline;

pub use recorder::{CallRecorder, RecorderStats};
pub use timeline::{TimelineStats, Track};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use object_store::ObjectStore;
use serde::{Deserialize, Serialize};
use shared::events::EventKind;
use shared::storage::{self, StoreError};
use uuid::Uuid;

/// Where and whether calls are recorded.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordingConfig {
    /// Record calls at all.
    pub enabled: bool,
    /// The store: a folder, `file:///...` or `s3://bucket/prefix` (see
    /// `shared::storage`); the control plane must be given the same one.
    pub store_url: String,
    /// object_store options (`aws_endpoint`, `aws_region`, ...) on top of the standard
    /// `AWS_*` environment, where credentials belong.
    pub store_options: BTreeMap<String, String>,
    /// Where recordings grow during calls (local disk, about 1.9 MB per call-minute).
    pub spool_dir: PathBuf,
    /// Upload part size: S3 needs at least 5 MiB, and this much is held in memory per
    /// upload.
    pub upload_part_bytes: usize,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            store_url: "data/recordings".to_string(),
            store_options: BTreeMap::new(),
            spool_dir: std::env::temp_dir().join("outbound-recordings"),
            upload_part_bytes: 5 * 1024 * 1024,
        }
    }
}

impl std::fmt::Debug for RecordingConfig {
    // Options may carry credentials: their names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingConfig")
            .field("enabled", &self.enabled)
            .field("store_url", &self.store_url)
            .field(
                "store_options",
                &self.store_options.keys().collect::<Vec<_>>(),
            )
            .field("spool_dir", &self.spool_dir)
            .field("upload_part_bytes", &self.upload_part_bytes)
            .finish()
    }
}

/// Why a recording could not be made or kept.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("opening the recordings store: {0}")]
    Store(#[from] StoreError),
    #[error("recording spool {path}: {source}")]
    Spool {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("storing {key} (the spool file {spool} is kept): {source}")]
    Upload {
        key: String,
        spool: PathBuf,
        source: object_store::Error,
    },
}

/// What the control plane's `RecordingStored` event carries.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecording {
    /// The object key, relative to the store both sides open.
    pub location: String,
    /// Always `wav`.
    pub format: String,
    /// Always 2: callee left, agent right.
    pub channels: i16,
    /// Slots recorded x 20 ms.
    pub duration_sec: f64,
    /// The whole file, header included.
    pub size_bytes: i64,
}

impl From<StoredRecording> for EventKind {
    fn from(stored: StoredRecording) -> Self {
        EventKind::RecordingStored {
            location: stored.location,
            format: stored.format,
            channels: stored.channels,
            duration_sec: stored.duration_sec,
            size_bytes: stored.size_bytes,
        }
    }
}

/// The store and spool folder every call's recorder uses. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RecordingStore {
    store: Arc<dyn ObjectStore>,
    spool_dir: PathBuf,
    upload_part_bytes: usize,
}

impl RecordingStore {
    /// Opens the configured store, or `None` when recording is disabled. Creates local
    /// folders: blocking file-system work, meant for start-up.
    pub fn from_config(config: &RecordingConfig) -> Result<Option<Self>, RecordingError> {
        if !config.enabled {
            return Ok(None);
        }
        let store = storage::open(&config.store_url, &config.store_options)?;
        Self::new(store, config.spool_dir.clone(), config.upload_part_bytes).map(Some)
    }

    /// Over an already opened store; creates `spool_dir` (blocking, for start-up).
    pub fn new(
        store: Arc<dyn ObjectStore>,
        spool_dir: PathBuf,
        upload_part_bytes: usize,
    ) -> Result<Self, RecordingError> {
        std::fs::create_dir_all(&spool_dir).map_err(|source| RecordingError::Spool {
            path: spool_dir.clone(),
            source,
        })?;
        Ok(Self {
            store,
            spool_dir,
            upload_part_bytes: upload_part_bytes.max(1),
        })
    }

    /// Starts recording `call` of `org`, whose media (slot 0) started at `media_start`.
    pub async fn start(
        &self,
        org: Uuid,
        call: Uuid,
        media_start: Instant,
    ) -> Result<CallRecorder, RecordingError> {
        // A unique name: a call may be recorded twice if its media reconnects.
        let path = self
            .spool_dir
            .join(format!("{call}-{}.wav.part", Uuid::new_v4().simple()));
        let spool = spool::Spool::create(path.clone())
            .await
            .map_err(|source| RecordingError::Spool { path, source })?;
        Ok(CallRecorder::new(
            spool,
            self.store.clone(),
            storage::recording_key(org, call),
            self.upload_part_bytes,
            media_start,
        ))
    }
}
