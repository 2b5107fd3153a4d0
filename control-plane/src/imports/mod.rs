//! The streaming import engine behind contact uploads and Do-Not-Call uploads.
//!
//! An upload is read record by record into chunks of [`BATCH_ROWS`] ([`csv`]), each chunk's
//! rows are validated into records or rejections ([`kinds`]) on a blocking thread, one
//! chunk per core at a time, valid rows are written in batches of [`BATCH_ROWS`], split by
//! phone number over one transaction per core ([`engine`]); a batch finds its own repeated
//! numbers as it fills and is written by one plain insert, which skips the numbers the list
//! already holds (asked for only when it skipped some), and rejected rows go to
//! `import_errors` in those transactions, up to [`MAX_STORED_ERRORS`] per import. Only
//! the chunk being read, those being validated, the batch being written and the first
//! [`MAX_REPORTED_ERRORS`] errors are ever in memory, so a million-row file costs what a
//! ten-thousand-row file costs.
//!
//! - [`body`]: byte limits on streamed bodies (a raw stream has no `DefaultBodyLimit`).
//! - [`upload`]: turns an HTTP request (CSV or multipart) into a CSV reader.
//! - [`report`]: the answer: counts and the first errors.

pub mod body;
pub mod csv;
mod engine;
pub mod kinds;
pub mod report;
pub mod upload;

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::contact::{ContactFields, ContactInput, ParsedContact};
use crate::error::ApiError;
use engine::Engine;
pub use kinds::{Contacts, Dnc, Kind};
pub use report::{ImportReport, RowError};

/// Valid rows written per statement: big enough that round trips do not dominate, small
/// enough that a batch (and its twin being written) stays a few megabytes.
pub const BATCH_ROWS: usize = 5_000;

/// Rejected rows kept for the upload's answer; the rest are only in `import_errors`.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// Rejected rows stored per import in `import_errors` (the first by row number). Past it
/// only the count grows (`imports.rejected` stays exact), so a file of millions of bad rows
/// cannot fill the database: a 1 GiB upload could otherwise write about 80M error rows.
pub const MAX_STORED_ERRORS: i64 = 10_000;

/// Why an upload as a whole failed. Rows committed before the failure stay.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The header row is missing or unusable (no phone column, a column twice).
    #[error("{0}")]
    BadHeader(String),
    #[error("upload is larger than {0} bytes")]
    TooLarge(usize),
    /// One record ran past [`body::MAX_RECORD_BYTES`]: not a CSV of contacts.
    #[error("row {0} is longer than {max} bytes; is the file really CSV?", max = body::MAX_RECORD_BYTES)]
    RowTooLong(i64),
    /// The client stopped sending, or sent something that is not CSV at all.
    #[error("the upload broke off: {0}")]
    Interrupted(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<ImportError> for ApiError {
    fn from(err: ImportError) -> Self {
        match err {
            ImportError::BadHeader(message) => ApiError::invalid("file", message),
            ImportError::TooLarge(limit) => ApiError::PayloadTooLarge(Some(limit)),
            ImportError::RowTooLong(_) => ApiError::invalid("file", err.to_string()),
            ImportError::Interrupted(message) => ApiError::BadRequest(message),
            ImportError::Database(err) => err.into(),
            ImportError::Internal(err) => ApiError::Internal(err),
        }
    }
}

/// Imports contacts sent as JSON; row numbers are 1-based positions in the array.
pub async fn import_json_contacts(
    db: &PgPool,
    org_id: Uuid,
    list_id: Uuid,
    default_country: Option<String>,
    contacts: Vec<ContactInput>,
) -> Result<ImportReport, ImportError> {
    let mut engine = Engine::start(db, Contacts::new(list_id), org_id, default_country).await?;
    for (index, contact) in contacts.into_iter().enumerate() {
        let fields = ContactFields {
            phone: Some(&contact.phone),
            name: contact.name.as_deref(),
            email: contact.email.as_deref(),
            timezone: contact.timezone.as_deref(),
            variables: contact
                .variables
                .iter()
                .flatten()
                .map(|(key, value)| (key.as_str(), value.as_str()))
                .collect(),
            consent_kind: contact.consent.as_ref().map(|c| c.kind.as_str()),
            consent_source: contact.consent.as_ref().and_then(|c| c.source.as_deref()),
            consent_at: contact.consent.as_ref().and_then(|c| c.at.as_deref()),
        };
        let parsed = ParsedContact::parse(&fields, engine.default_country());
        let row = i64::try_from(index).unwrap_or(i64::MAX - 1) + 1;
        if let Err(err) = engine.push(row, parsed).await {
            return Err(engine.fail(err).await);
        }
    }
    engine.finish().await
}
