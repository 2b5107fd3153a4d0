//! Reading an uploaded CSV record by record: the header decides the layout, every later
//! record becomes a row for the engine. Records are read in chunks of one batch, which
//! are validated on blocking threads, several at once, and written in file order.

use std::collections::VecDeque;
use std::mem;
use std::sync::Arc;

use anyhow::anyhow;
use csv_async::{AsyncReaderBuilder, ByteRecord, Trim};
use sqlx::PgPool;
use tokio::io::AsyncRead;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::body::{record_too_long, too_large, RecordGuard};
use super::engine::{lane, Engine};
use super::{ImportError, ImportReport, Kind, RowError, BATCH_ROWS};
use crate::domain::contact::{clip, RowRejection};

/// Most columns a file may have; more is not a contact list (and would make every row a
/// pile of variables).
pub const MAX_COLUMNS: usize = 200;

/// The header row: column names trimmed, a UTF-8 byte-order mark removed.
#[derive(Debug)]
pub struct Header {
    names: Vec<String>,
}

impl Header {
    pub fn parse(record: &ByteRecord) -> Result<Self, String> {
        if record.len() > MAX_COLUMNS {
            return Err(format!(
                "the CSV has {} columns; at most {MAX_COLUMNS} are allowed",
                record.len()
            ));
        }
        let mut names = Vec::with_capacity(record.len());
        for (index, raw) in record.iter().enumerate() {
            let raw = if index == 0 {
                raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
            } else {
                raw
            };
            let name = std::str::from_utf8(raw)
                .map_err(|_| format!("header column {} is not valid UTF-8", index + 1))?;
            if raw.contains(&0) {
                return Err(format!(
                    "header column {} contains a NUL character",
                    index + 1
                ));
            }
            names.push(name.trim().to_string());
        }
        if names.iter().all(String::is_empty) {
            return Err("the CSV is empty: expected a header row first".into());
        }
        for (index, name) in names.iter().enumerate() {
            let twice = names[..index]
                .iter()
                .any(|earlier| !name.is_empty() && earlier.eq_ignore_ascii_case(name));
            if twice {
                return Err(format!("the column `{}` appears twice", clip(name)));
            }
        }
        Ok(Self { names })
    }

    /// The one column whose name is any of `aliases` (case-insensitive).
    pub fn column(&self, aliases: &[&str]) -> Result<Option<usize>, String> {
        let mut found = self
            .names
            .iter()
            .enumerate()
            .filter(|(_, name)| aliases.iter().any(|a| name.eq_ignore_ascii_case(a)));
        match (found.next(), found.next()) {
            (Some((_, first)), Some((_, second))) => Err(format!(
                "the columns `{first}` and `{second}` mean the same thing; keep one"
            )),
            (first, _) => Ok(first.map(|(index, _)| index)),
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The text of one cell; an empty cell is `None`. A NUL character rejects the row (PostgreSQL
/// text cannot hold one), naming the column by its spreadsheet number.
pub fn cell(record: &ByteRecord, index: usize) -> Result<Option<&str>, RowRejection> {
    match record.get(index) {
        None => Ok(None),
        Some(bytes) if bytes.contains(&0) => Err(RowRejection::new(
            None,
            format!("column {} contains a NUL character", index + 1),
        )),
        Some(bytes) => std::str::from_utf8(bytes)
            .map(|text| Some(text.trim()).filter(|t| !t.is_empty()))
            .map_err(|_| RowRejection::new(None, "the row is not valid UTF-8")),
    }
}

/// Imports a CSV of kind `K` from `reader`. The header is checked before the import is
/// recorded, so an unusable file leaves no trace.
///
/// Reading is a pipeline: this task reads raw records into chunks of [`BATCH_ROWS`],
/// validation (phone parsing is most of the import's own CPU) runs on blocking threads,
/// up to one chunk per core at a time, each chunk's rows split into the engine's lanes by
/// phone number, and the engine writes each validated chunk as one batch (a transaction
/// per lane, all at once), in file order, while the next ones are read and validated.
pub async fn import_csv<K: Kind, R: AsyncRead + Unpin + Send>(
    db: &PgPool,
    kind: K,
    org_id: Uuid,
    default_country: Option<String>,
    reader: R,
) -> Result<ImportReport, ImportError> {
    let mut csv = AsyncReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(Trim::All)
        .create_reader(RecordGuard::new(reader));
    let header = csv
        .byte_headers()
        .await
        .map_err(|err| stream_error(err, 1))?;
    let header = Header::parse(header).map_err(ImportError::BadHeader)?;
    let layout = K::layout(&header).map_err(ImportError::BadHeader)?;

    let engine = Engine::start(db, kind, org_id, default_country.clone()).await?;
    let mut pipeline = Pipeline {
        engine,
        validating: VecDeque::new(),
        chunks: Vec::new(),
        rules: Arc::new(Rules {
            layout,
            columns: header.len(),
            default_country,
        }),
        parallel: validators(),
    };
    // Spreadsheet numbering: the header is row 1.
    let mut chunk = Chunk::starting_at(2);
    loop {
        let record = chunk.next_slot();
        match csv.read_byte_record(record).await {
            Ok(true) => csv.get_mut().record_done(),
            Ok(false) => break,
            Err(err) => {
                let err = stream_error(err, chunk.next_row());
                // Rows read completely before the break are still written.
                let drained = pipeline.validate(chunk).await;
                let drained = match drained {
                    Ok(()) => pipeline.drain().await,
                    Err(err) => Err(err),
                };
                let err = drained.err().unwrap_or(err);
                return Err(pipeline.engine.fail(err).await);
            }
        }
        chunk.len += 1;
        if chunk.len == BATCH_ROWS {
            let next = pipeline.empty_chunk(chunk.next_row());
            if let Err(err) = pipeline.validate(mem::replace(&mut chunk, next)).await {
                return Err(pipeline.engine.fail(err).await);
            }
        }
    }
    let finished = match pipeline.validate(chunk).await {
        Ok(()) => pipeline.drain().await,
        Err(err) => Err(err),
    };
    if let Err(err) = finished {
        return Err(pipeline.engine.fail(err).await);
    }
    pipeline.engine.finish().await
}

/// How many chunks are validated at once: one per core (the database and this reader
/// share them too, so more would only queue).
fn validators() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 8))
}

/// What validating a record needs, shared with the blocking threads.
struct Rules<L> {
    layout: L,
    columns: usize,
    default_country: Option<String>,
}

/// Raw records in file order, waiting to be validated. The records are reused from chunk
/// to chunk, so reading allocates only while the first chunks fill.
struct Chunk {
    /// The row number of `records[0]`.
    first_row: i64,
    records: Vec<ByteRecord>,
    /// How many of `records` hold this chunk's rows.
    len: usize,
}

impl Chunk {
    fn starting_at(first_row: i64) -> Self {
        Self {
            first_row,
            records: Vec::new(),
            len: 0,
        }
    }

    /// The record to read the next row into.
    fn next_slot(&mut self) -> &mut ByteRecord {
        if self.records.len() == self.len {
            self.records.push(ByteRecord::new());
        }
        &mut self.records[self.len]
    }

    fn next_row(&self) -> i64 {
        self.first_row + self.len as i64
    }
}

/// A validated chunk: its valid rows in the engine's lanes, its rejected ones (by row), and
/// the chunk to reuse.
type Validated<K> = (Vec<<K as Kind>::Batch>, Vec<RowError>, Chunk);

/// The chunks being validated, oldest first, in front of the engine.
struct Pipeline<K: Kind> {
    engine: Engine<K>,
    validating: VecDeque<JoinHandle<Validated<K>>>,
    /// Validated chunks, to be filled again.
    chunks: Vec<Chunk>,
    rules: Arc<Rules<K::Layout>>,
    parallel: usize,
}

impl<K: Kind> Pipeline<K> {
    fn empty_chunk(&mut self, first_row: i64) -> Chunk {
        match self.chunks.pop() {
            Some(mut chunk) => {
                chunk.first_row = first_row;
                chunk.len = 0;
                chunk
            }
            None => Chunk::starting_at(first_row),
        }
    }

    /// Starts validating `chunk`; when as many chunks as cores are being validated, first
    /// hands the oldest to the engine.
    async fn validate(&mut self, chunk: Chunk) -> Result<(), ImportError> {
        if chunk.len == 0 {
            self.chunks.push(chunk);
            return Ok(());
        }
        if self.validating.len() >= self.parallel {
            self.write_oldest().await?;
        }
        let lanes = self.engine.empty_lanes();
        let rules = self.rules.clone();
        let span = tracing::Span::current();
        self.validating
            .push_back(tokio::task::spawn_blocking(move || {
                let _entered = span.enter();
                validate_chunk::<K>(&rules, chunk, lanes)
            }));
        Ok(())
    }

    async fn write_oldest(&mut self) -> Result<(), ImportError> {
        let Some(oldest) = self.validating.pop_front() else {
            return Ok(());
        };
        let (lanes, rejected, chunk) = oldest
            .await
            .map_err(|err| anyhow!(err).context("a row validator died"))?;
        self.chunks.push(chunk);
        self.engine.submit(lanes, rejected).await
    }

    /// Hands every chunk still being validated to the engine.
    async fn drain(&mut self) -> Result<(), ImportError> {
        while !self.validating.is_empty() {
            self.write_oldest().await?;
        }
        Ok(())
    }
}

/// Validates each row of `chunk` into its lane of `lanes` or the rejections (on a
/// blocking thread).
fn validate_chunk<K: Kind>(
    rules: &Rules<K::Layout>,
    chunk: Chunk,
    mut lanes: Vec<K::Batch>,
) -> Validated<K> {
    let mut rejected = Vec::new();
    let default_country = rules.default_country.as_deref();
    for (offset, record) in chunk.records[..chunk.len].iter().enumerate() {
        let row = chunk.first_row + offset as i64;
        let parsed = if record.len() == rules.columns {
            K::parse(&rules.layout, record, default_country)
        } else {
            let phone = cell(record, K::phone_column(&rules.layout))
                .ok()
                .flatten()
                .map(|p| clip(p).to_string());
            Err(RowRejection::new(
                phone,
                format!("expected {} columns, found {}", rules.columns, record.len()),
            ))
        };
        match parsed {
            Ok(record) => {
                let lane = lane(K::phone(&record), lanes.len());
                K::push(&mut lanes[lane], row, record);
            }
            Err(rejection) => rejected.push(RowError {
                row,
                phone: rejection.phone,
                reason: rejection.reason,
            }),
        }
    }
    (lanes, rejected, chunk)
}

/// Why the CSV stopped at `row`: a limit, or a body that broke off.
fn stream_error(err: csv_async::Error, row: i64) -> ImportError {
    if let csv_async::ErrorKind::Io(io) = err.kind() {
        if let Some(limit) = too_large(io) {
            return ImportError::TooLarge(limit);
        }
        if record_too_long(io) {
            return ImportError::RowTooLong(row);
        }
    }
    ImportError::Interrupted(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Result<Header, String> {
        Header::parse(&ByteRecord::from(names.to_vec()))
    }

    #[test]
    fn columns_match_case_insensitively_after_trimming_and_without_a_bom() {
        let header = header(&["\u{feff}Phone ", " NAME", "Plan"]).unwrap();
        assert_eq!(header.column(&["phone", "number"]), Ok(Some(0)));
        assert_eq!(header.column(&["name"]), Ok(Some(1)));
        assert_eq!(header.column(&["email"]), Ok(None));
    }

    #[test]
    fn two_columns_for_one_field_are_refused() {
        let header = header(&["phone", "number"]).unwrap();
        assert!(header.column(&["phone", "number"]).is_err());
        assert!(Header::parse(&ByteRecord::from(vec!["a", "A"])).is_err());
    }

    #[test]
    fn a_nul_character_in_a_header_or_a_cell_is_refused_naming_the_column() {
        assert!(header(&["phone", "na\0me"])
            .unwrap_err()
            .contains("column 2"));
        let record = ByteRecord::from(vec!["+12125550142", "Ann\0"]);
        assert_eq!(cell(&record, 0).unwrap(), Some("+12125550142"));
        let rejection = cell(&record, 1).unwrap_err();
        assert!(
            rejection.reason.contains("column 2"),
            "{}",
            rejection.reason
        );
    }

    #[test]
    fn an_empty_header_or_a_huge_one_is_refused() {
        assert!(header(&[""]).is_err());
        let wide: Vec<String> = (0..=MAX_COLUMNS).map(|i| format!("c{i}")).collect();
        assert!(Header::parse(&ByteRecord::from(wide)).is_err());
    }
}
