//! Reading an uploaded CSV record by record: the header decides the layout, every later
//! record becomes a row for the engine. One `ByteRecord` is reused for the whole file.

use csv_async::{AsyncReaderBuilder, ByteRecord, Trim};
use sqlx::PgPool;
use tokio::io::AsyncRead;
use uuid::Uuid;

use super::body::{record_too_long, too_large, RecordGuard};
use super::engine::Engine;
use super::{ImportError, ImportReport, Kind};
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

    let mut engine = Engine::start(db, kind, org_id, default_country).await?;
    let mut record = ByteRecord::new();
    // Spreadsheet numbering: the header is row 1.
    let mut row = 1_i64;
    loop {
        match csv.read_byte_record(&mut record).await {
            Ok(true) => csv.get_mut().record_done(),
            Ok(false) => break,
            Err(err) => return Err(engine.fail(stream_error(err, row + 1)).await),
        }
        row += 1;
        let parsed = if record.len() == header.len() {
            K::parse(&layout, &record, engine.default_country())
        } else {
            let phone = cell(&record, K::phone_column(&layout))
                .ok()
                .flatten()
                .map(|p| clip(p).to_string());
            Err(RowRejection::new(
                phone,
                format!("expected {} columns, found {}", header.len(), record.len()),
            ))
        };
        if let Err(err) = engine.push(row, parsed).await {
            return Err(engine.fail(err).await);
        }
    }
    engine.finish().await
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
