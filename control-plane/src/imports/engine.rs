//! The batching engine: collects validated rows, writes each batch in its own transaction
//! (rows, their rejections, the import's counters), and keeps one batch being written
//! while the next one is parsed, so the database and the parser work at the same time.

use std::mem;

use anyhow::anyhow;
use chrono::{DateTime, Utc};
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
    /// The batch's rows, cleared for reuse.
    emptied: B,
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
    pub(super) fn empty_batch(&mut self) -> K::Batch {
        self.spare.pop().unwrap_or_else(K::new_batch)
    }

    /// Writes a batch validated elsewhere (`rejected` sorted by row, all its rows after
    /// those already given): waits for the previous batch to commit, then hands this one
    /// to a writer. The same as [`Engine::push`]ing its rows one by one.
    pub(super) async fn submit(
        &mut self,
        batch: K::Batch,
        rejected: Vec<RowError>,
    ) -> Result<(), ImportError> {
        // Rows pushed one by one go first, keeping row order.
        self.flush().await?;
        self.wait_for_writer().await?;
        self.spawn_writer(batch, rejected);
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
        self.spawn_writer(batch, rejected);
        Ok(())
    }

    fn spawn_writer(&mut self, batch: K::Batch, rejected: Vec<RowError>) {
        if K::len(&batch) == 0 && rejected.is_empty() {
            self.spare.push(batch);
            return;
        }
        // The writer keeps the request's span, so its logs carry the org_id.
        let write = self.job.clone().write(batch, rejected).in_current_span();
        self.writing = Some(tokio::spawn(write));
    }

    async fn wait_for_writer(&mut self) -> Result<(), ImportError> {
        if let Some(writing) = self.writing.take() {
            let written = writing
                .await
                .map_err(|err| anyhow!(err).context("a batch writer died"))??;
            self.tally.add(written.accepted, &written.errors);
            self.spare.push(written.emptied);
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
    /// One transaction: the valid rows, every rejected row, the counters.
    async fn write(
        self,
        mut batch: K::Batch,
        mut errors: Vec<RowError>,
    ) -> Result<Written<K::Batch>, ImportError> {
        let mut tx = self.db.begin().await?;
        db::imports::commit_without_waiting_for_disk(&mut tx).await?;
        let mut accepted = 0;
        if K::len(&batch) > 0 {
            let duplicates = self.kind.insert(&batch, &mut tx, self.org_id).await?;
            accepted = (K::len(&batch) - duplicates.len()) as i64;
            errors.extend(
                duplicates
                    .into_iter()
                    .map(|duplicate| self.duplicate_error(duplicate)),
            );
        }
        errors.sort_unstable_by_key(|error| error.row);
        db::imports::insert_errors(&mut tx, self.import_id, &errors, MAX_STORED_ERRORS).await?;
        db::imports::add_progress(&mut tx, self.import_id, accepted, errors.len() as i64).await?;
        tx.commit().await?;
        K::clear(&mut batch);
        Ok(Written {
            accepted,
            errors,
            emptied: batch,
        })
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
