//! What an upload answers: how many rows went in, how many did not, and why the first
//! [`MAX_REPORTED_ERRORS`] did not. The full list stays in `import_errors`.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::MAX_REPORTED_ERRORS;

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    /// Spreadsheet numbering for CSV (the header is row 1, the first contact row 2);
    /// 1-based position in the array for JSON.
    pub row: i64,
    /// The normalized number when it parsed, the raw text when it did not.
    pub phone: Option<String>,
    pub reason: String,
}

/// The answer to an upload.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// The import, with its full error list at `/api/v1/imports/{id}/errors`.
    pub import_id: Uuid,
    pub accepted: i64,
    pub rejected: i64,
    /// The first rejected rows, by row number, at most 100.
    pub errors: Vec<RowError>,
    /// More rows were rejected than `errors` shows.
    pub errors_truncated: bool,
}

/// Counts batches as they are committed, keeping only the first errors.
#[derive(Debug)]
pub(super) struct Tally {
    import_id: Uuid,
    accepted: i64,
    rejected: i64,
    errors: Vec<RowError>,
}

impl Tally {
    pub(super) fn new(import_id: Uuid) -> Self {
        Self {
            import_id,
            accepted: 0,
            rejected: 0,
            errors: Vec::new(),
        }
    }

    /// Adds one committed batch. Batches arrive in row order and `errors` is sorted, so
    /// the kept errors are the lowest-numbered ones.
    pub(super) fn add(&mut self, accepted: i64, errors: &[RowError]) {
        self.accepted += accepted;
        self.rejected += errors.len() as i64;
        let room = MAX_REPORTED_ERRORS.saturating_sub(self.errors.len());
        self.errors.extend(errors.iter().take(room).cloned());
    }

    /// Rows rejected so far (all of them committed).
    pub(super) fn rejected(&self) -> i64 {
        self.rejected
    }

    pub(super) fn report(self) -> ImportReport {
        ImportReport {
            import_id: self.import_id,
            accepted: self.accepted,
            rejected: self.rejected,
            errors_truncated: self.rejected > self.errors.len() as i64,
            errors: self.errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(rows: std::ops::Range<i64>) -> Vec<RowError> {
        rows.map(|row| RowError {
            row,
            phone: None,
            reason: "missing phone".into(),
        })
        .collect()
    }

    #[test]
    fn only_the_first_hundred_errors_are_kept_but_all_are_counted() {
        let mut tally = Tally::new(Uuid::nil());
        tally.add(10, &errors(2..82));
        tally.add(5, &errors(100..150));
        let report = tally.report();
        assert_eq!(report.accepted, 15);
        assert_eq!(report.rejected, 130);
        assert_eq!(report.errors.len(), MAX_REPORTED_ERRORS);
        assert_eq!(report.errors.last().map(|e| e.row), Some(119));
        assert!(report.errors_truncated);
    }

    #[test]
    fn a_short_report_is_not_truncated() {
        let mut tally = Tally::new(Uuid::nil());
        tally.add(3, &errors(2..4));
        assert!(!tally.report().errors_truncated);
    }
}
