//! The batching engine: collects validated rows, writes each batch in transactions that
//! hold its rows, their rejections and the import's counters, and keeps one batch being
//! written while the next one is parsed, so the database and the parser work at the same
//! time.
//!
//! A batch from the CSV reader comes split into [`writers`] lanes by phone number, and
//! each lane is written by its own transaction, all at once: one PostgreSQL backend
//! inserting (indexes, foreign key, WAL) was the import's ceiling, and rows with the same
//! number always share a lane, so lanes never wait on each other's unique-index entries
//! and the lowest row of a number still wins. Which rejected rows are stored (the first
//! [`MAX_STORED_ERRORS`] by row) is decided over the whole batch between the lanes'
//! inserts and their commits, so it is the same as with one writer.

use std::mem;

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tracing::Instrument;
use uuid::Uuid;

use super::report::Tally;
use super::{ImportError, ImportReport, Kind, RowError, BATCH_ROWS, MAX_STORED_ERRORS};
use crate::db;
use crate::db::imports::Duplicate;
use crate::domain::contact::RowRejection;

/// One running import.
pub(super) struct Engine<K: Kind> {
    job: Job<K>,
    default_country: Option<String>,
    batch: K::Batch,
    /// Written batches, emptied: a few batches take turns for the whole import instead of
    /// large buffers being allocated and freed every few thousand rows (glibc keeps such
    /// churn as resident memory that grows with the file).
    spare: Vec<K::Batch>,
    /// Rows of the current batch that failed validation.
    rejected: Vec<RowError>,
    /// The previous batch, being written.
    writing: Option<JoinHandle<Result<Written<K::Batch>, ImportError>>>,
    /// How many lanes a batch from [`Engine::submit`] has.
    writers: usize,
    tally: Tally,
    guard: RunningGuard,
}

/// What a writer task needs; cloned into each one.
#[derive(Clone)]
struct Job<K> {
    db: PgPool,
    kind: K,
    import_id: Uuid,
    org_id: Uuid,
    started_at: DateTime<Utc>,
}

/// A committed batch.
struct Written<B> {
    accepted: i64,
    /// Sorted by row.
    errors: Vec<RowError>,
    /// The batch's lanes, cleared for reuse.
    emptied: Vec<B>,
}

/// How many transactions write a batch at once: one per core, up to four (each is a
/// PostgreSQL backend, and the database shares the cores with the parser).
pub(super) fn writers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// The lane (of `lanes`) that writes rows with this E.164 number: by its last digit, which
/// spreads numbers evenly and is the same for every copy of a number.
pub(super) fn lane(phone: &str, lanes: usize) -> usize {
    phone.bytes().last().map_or(0, usize::from) % lanes.max(1)
}

impl<K: Kind> Engine<K> {
    /// Records the import as running.
    pub(super) async fn start(
        db: &PgPool,
        kind: K,
        org_id: Uuid,
        default_country: Option<String>,
    ) -> Result<Self, ImportError> {
        let import_id = Uuid::now_v7();
        let started_at = db::imports::create(
            db,
            org_id,
            import_id,
            K::NAME,
            kind.list_id(),
            default_country.as_deref(),
        )
        .await?;
        Ok(Self {
            job: Job {
                db: db.clone(),
                kind,
                import_id,
                org_id,
                started_at,
            },
            default_country,
            batch: K::new_batch(),
            spare: Vec::new(),
            rejected: Vec::new(),
            writing: None,
            writers: writers(),
            tally: Tally::new(import_id),
            guard: RunningGuard {
                db: db.clone(),
                import_id,
                armed: true,
            },
        })
    }

    pub(super) fn default_country(&self) -> Option<&str> {
        self.default_country.as_deref()
    }

    /// Adds one row, writing the batch when it is full.
    pub(super) async fn push(
        &mut self,
        row: i64,
        parsed: Result<K::Record, RowRejection>,
    ) -> Result<(), ImportError> {
        match parsed {
            Ok(record) => K::push(&mut self.batch, row, record),
            Err(rejection) => self.rejected.push(RowError {
                row,
                phone: rejection.phone,
                reason: rejection.reason,
            }),
        }
        // Rejected rows count too: a file of nothing but bad rows must not pile up.
        if K::len(&self.batch) + self.rejected.len() >= BATCH_ROWS {
            self.flush().await?;
        }
        Ok(())
    }

    /// An empty batch to fill: a written one when there is one.
    fn empty_batch(&mut self) -> K::Batch {
        self.spare.pop().unwrap_or_else(K::new_batch)
    }

    /// Empty lanes for one batch of [`Engine::submit`]: row `r` goes to lane
    /// `lane(phone, lanes.len())`.
    pub(super) fn empty_lanes(&mut self) -> Vec<K::Batch> {
        (0..self.writers).map(|_| self.empty_batch()).collect()
    }

    /// Writes a batch validated elsewhere, split into lanes by [`lane`] (`rejected` sorted
    /// by row, all its rows after those already given): waits for the previous batch to
    /// commit, then hands this one to the writers. The same as [`Engine::push`]ing its
    /// rows one by one.
    pub(super) async fn submit(
        &mut self,
        lanes: Vec<K::Batch>,
        rejected: Vec<RowError>,
    ) -> Result<(), ImportError> {
        // Rows pushed one by one go first, keeping row order.
        self.flush().await?;
        self.wait_for_writer().await?;
        self.spawn_writer(lanes, rejected);
        Ok(())
    }

    /// Waits for the previous batch to commit, then hands the current one to a writer.
    async fn flush(&mut self) -> Result<(), ImportError> {
        self.wait_for_writer().await?;
        if K::len(&self.batch) == 0 && self.rejected.is_empty() {
            return Ok(());
        }
        let next = self.empty_batch();
        let batch = mem::replace(&mut self.batch, next);
        let rejected = mem::take(&mut self.rejected);
        self.spawn_writer(vec![batch], rejected);
        Ok(())
    }

    /// Starts writing a batch; the tally is up to date (no batch is being written).
    fn spawn_writer(&mut self, lanes: Vec<K::Batch>, rejected: Vec<RowError>) {
        let (lanes, empty): (Vec<_>, Vec<_>) = lanes.into_iter().partition(|lane| K::len(lane) > 0);
        self.spare.extend(empty);
        if lanes.is_empty() && rejected.is_empty() {
            return;
        }
        let room = (MAX_STORED_ERRORS - self.tally.rejected()).max(0);
        // The writer keeps the request's span, so its logs carry the org_id.
        let write = self
            .job
            .clone()
            .write(lanes, rejected, room)
            .in_current_span();
        self.writing = Some(tokio::spawn(write));
    }

    async fn wait_for_writer(&mut self) -> Result<(), ImportError> {
        if let Some(writing) = self.writing.take() {
            let written = writing
                .await
                .map_err(|err| anyhow!(err).context("a batch writer died"))??;
            self.tally.add(written.accepted, &written.errors);
            self.spare.extend(written.emptied);
        }
        Ok(())
    }

    /// Writes what is left and marks the import completed.
    pub(super) async fn finish(mut self) -> Result<ImportReport, ImportError> {
        let flushed = match self.flush().await {
            Ok(()) => self.wait_for_writer().await,
            Err(err) => Err(err),
        };
        if let Err(err) = flushed {
            return Err(self.fail(err).await);
        }
        db::imports::finish(&self.job.db, self.job.import_id, None).await?;
        self.guard.armed = false;
        let report = self.tally.report();
        tracing::info!(
            import_id = %report.import_id,
            kind = K::NAME,
            accepted = report.accepted,
            rejected = report.rejected,
            "import completed"
        );
        Ok(report)
    }

    /// Marks the import failed because of `err` and hands `err` back. Rows read completely
    /// before a broken stream are still written; after a database error nothing more is.
    pub(super) async fn fail(mut self, err: ImportError) -> ImportError {
        let database_works = !matches!(err, ImportError::Database(_) | ImportError::Internal(_));
        let outcome = if database_works {
            match self.flush().await {
                Ok(()) => self.wait_for_writer().await,
                Err(err) => Err(err),
            }
        } else {
            self.wait_for_writer().await
        };
        if let Err(write_err) = outcome {
            tracing::error!(error = ?write_err, import_id = %self.job.import_id, "writing the last batch of a failed import");
        }
        let failure = match &err {
            ImportError::Database(_) | ImportError::Internal(_) => {
                "internal error while writing rows".to_string()
            }
            other => other.to_string(),
        };
        match db::imports::finish(&self.job.db, self.job.import_id, Some(&failure)).await {
            Ok(()) => self.guard.armed = false,
            Err(db_err) => {
                tracing::error!(error = ?db_err, import_id = %self.job.import_id, "marking an import failed");
            }
        }
        err
    }
}

impl<K: Kind> Job<K> {
    /// Writes one batch: each lane's rows in its own transaction, all at once, then in
    /// each transaction the rejected rows it stores and its counters. Rejections of
    /// validation go with the first lane. Of the batch's rejected rows, the first `room`
    /// by row are stored.
    async fn write(
        self,
        mut lanes: Vec<K::Batch>,
        rejected: Vec<RowError>,
        room: i64,
    ) -> Result<Written<K::Batch>, ImportError> {
        let created_at = db::imports::clock(&self.db).await?;
        let inserts = lanes.iter().map(|lane| self.insert_lane(lane, created_at));
        let mut open = try_join_all(inserts).await?;
        let mut accepted: Vec<i64> = lanes
            .iter()
            .zip(&open)
            .map(|(lane, (_, refused))| (K::len(lane) - refused.len()) as i64)
            .collect();
        if open.is_empty() {
            // Only rejected rows: one transaction stores them.
            open.push((self.begin().await?, Vec::new()));
            accepted.push(0);
        }
        open[0].1.extend(rejected);
        for (_, errors) in &mut open {
            errors.sort_unstable_by_key(|error| error.row);
        }
        // Rows stored: those before the `room`-th rejected row of the batch.
        let mut rows: Vec<i64> = open
            .iter()
            .flat_map(|(_, errors)| errors.iter().map(|error| error.row))
            .collect();
        rows.sort_unstable();
        let stored_below = usize::try_from(room)
            .ok()
            .and_then(|room| rows.get(room).copied())
            .unwrap_or(i64::MAX);
        let import_id = self.import_id;
        let commits =
            open.into_iter()
                .zip(accepted)
                .map(|((mut tx, errors), accepted)| async move {
                    let stored = errors.partition_point(|error| error.row < stored_below);
                    db::imports::insert_errors(&mut tx, import_id, &errors[..stored]).await?;
                    db::imports::add_progress(&mut tx, import_id, accepted, errors.len() as i64)
                        .await?;
                    tx.commit().await?;
                    Ok::<_, ImportError>((accepted, errors))
                });
        let committed = try_join_all(commits).await?;
        let accepted = committed.iter().map(|(accepted, _)| accepted).sum();
        let mut errors: Vec<RowError> = committed
            .into_iter()
            .flat_map(|(_, errors)| errors)
            .collect();
        errors.sort_unstable_by_key(|error| error.row);
        for lane in &mut lanes {
            K::clear(lane);
        }
        Ok(Written {
            accepted,
            errors,
            emptied: lanes,
        })
    }

    /// A transaction for one lane that commits without waiting for the disk.
    async fn begin(&self) -> Result<db::Tx<'static>, ImportError> {
        let mut tx = self.db.begin().await?;
        db::imports::commit_without_waiting_for_disk(&mut tx).await?;
        Ok(tx)
    }

    /// Inserts one lane's rows in a new transaction, left open; returns it with the rows
    /// refused as duplicates.
    async fn insert_lane(
        &self,
        lane: &K::Batch,
        created_at: DateTime<Utc>,
    ) -> Result<(db::Tx<'static>, Vec<RowError>), ImportError> {
        let mut tx = self.begin().await?;
        let duplicates = self
            .kind
            .insert(lane, &mut tx, self.org_id, created_at)
            .await?;
        let refused = duplicates
            .into_iter()
            .map(|duplicate| self.duplicate_error(duplicate))
            .collect();
        Ok((tx, refused))
    }

    fn duplicate_error(&self, duplicate: Duplicate) -> RowError {
        let reason = match (duplicate.first_row, duplicate.existing_since) {
            (Some(first), _) => format!("duplicate phone: same number as row {first}"),
            // Stored after this import began: by one of its own earlier batches.
            (None, Some(since)) if since >= self.started_at => {
                "duplicate phone: same number as an earlier row".to_string()
            }
            _ => K::ALREADY_STORED.to_string(),
        };
        RowError {
            row: duplicate.row,
            phone: Some(duplicate.phone),
            reason,
        }
    }
}

/// Marks the import failed when the request goes away mid-way (client gone, timeout), so
/// no import stays `running` forever. Disarmed once the import is properly finished.
struct RunningGuard {
    db: PgPool,
    import_id: Uuid,
    armed: bool,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let db = self.db.clone();
        let import_id = self.import_id;
        runtime.spawn(async move {
            let failure = "the upload was interrupted before it finished";
            if let Err(err) = db::imports::finish(&db, import_id, Some(failure)).await {
                tracing::error!(error = ?err, %import_id, "marking an interrupted import failed");
            }
        });
    }
}
