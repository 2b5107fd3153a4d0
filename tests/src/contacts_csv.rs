//! A contact CSV of any size with the same bytes every time, produced chunk by chunk so
//! that a million rows never sit in memory (neither here nor, if the server streams, there).
//!
//! About 1% of the rows have an invalid phone and 0.5% repeat the phone of an earlier row;
//! two extra columns (`plan`, `region`) become contact variables. Half the numbers are
//! E.164, half national, so the upload needs `defaultCountry=US`.

use std::convert::Infallible;

use futures::Stream;

pub const HEADER: &str = "phone,name,email,plan,region\n";

/// US area codes the numbers are spread over; each holds 8,000,000 of them.
const AREAS: [u32; 5] = [212, 312, 415, 617, 718];
const PER_AREA: u64 = 8_000_000;

/// `rows` data rows (the header comes on top).
#[derive(Debug, Clone, Copy)]
pub struct ContactsCsv {
    pub rows: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    InvalidPhone,
    /// Repeats the phone of this earlier row.
    Duplicate(u64),
    Unique,
}

fn row_kind(index: u64) -> Row {
    if index % 100 == 37 {
        Row::InvalidPhone
    } else if index % 200 == 101 {
        // Row index - 50 is ≡ 51 (mod 200): always a unique row.
        Row::Duplicate(index - 50)
    } else {
        Row::Unique
    }
}

/// A valid, distinct US number for each index below 40 million.
fn phone(index: u64) -> String {
    let area = AREAS[((index / PER_AREA) as usize) % AREAS.len()];
    let local = index % PER_AREA;
    let exchange = 200 + local / 10_000;
    let line = local % 10_000;
    if index % 2 == 0 {
        format!("+1{area}{exchange}{line:04}")
    } else {
        format!("({area}) {exchange}-{line:04}")
    }
}

impl ContactsCsv {
    /// How many rows the importer should accept and reject.
    pub fn expected(&self) -> (u64, u64) {
        let rejected = (0..self.rows)
            .filter(|&i| row_kind(i) != Row::Unique)
            .count() as u64;
        (self.rows - rejected, rejected)
    }

    /// Appends data row `index` (0-based) to `out`.
    pub fn write_row(index: u64, out: &mut String) {
        let phone = match row_kind(index) {
            Row::InvalidPhone => format!("555-{:04}", index % 10_000),
            Row::Duplicate(of) => phone(of),
            Row::Unique => phone(index),
        };
        let plan = ["basic", "plus", "pro"][(index % 3) as usize];
        let region = ["north", "south", "east", "west"][(index % 4) as usize];
        out.push_str(&format!(
            "{phone},Contact {index},contact{index}@example.com,{plan},{region}\n"
        ));
    }

    /// The file as a stream of chunks of about `chunk_bytes`.
    pub fn stream(self, chunk_bytes: usize) -> impl Stream<Item = Result<Vec<u8>, Infallible>> {
        futures::stream::unfold(Some(0_u64), move |next| async move {
            let mut index = next?;
            let mut chunk = String::with_capacity(chunk_bytes + 128);
            if index == 0 {
                chunk.push_str(HEADER);
            }
            while index < self.rows && chunk.len() < chunk_bytes {
                Self::write_row(index, &mut chunk);
                index += 1;
            }
            let next = (index < self.rows).then_some(index);
            Some((Ok(chunk.into_bytes()), next))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use futures::StreamExt;

    use super::*;

    async fn text(csv: ContactsCsv, chunk: usize) -> String {
        let chunks: Vec<_> = csv.stream(chunk).collect().await;
        let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap()).collect();
        String::from_utf8(bytes).unwrap()
    }

    #[tokio::test]
    async fn the_file_is_the_same_whatever_the_chunk_size() {
        let csv = ContactsCsv { rows: 1_000 };
        let small = text(csv, 100).await;
        assert_eq!(small, text(csv, 1 << 20).await);
        assert!(small.starts_with(HEADER));
        assert_eq!(small.lines().count(), 1_001);
    }

    #[tokio::test]
    async fn the_expected_counts_match_the_rows_written() {
        let csv = ContactsCsv { rows: 10_000 };
        let body = text(csv, 4096).await;
        let mut seen = HashSet::new();
        let mut rejected = 0;
        for line in body.lines().skip(1) {
            let phone = line.split(',').next().unwrap();
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            let valid = digits.len() == 10 || digits.len() == 11;
            if !valid || !seen.insert(digits[digits.len() - 10..].to_string()) {
                rejected += 1;
            }
        }
        assert_eq!(csv.expected(), (10_000 - rejected, rejected));
        assert_eq!(rejected, 100 + 50);
    }

    #[test]
    fn numbers_stay_distinct_across_area_codes() {
        assert_ne!(phone(0), phone(PER_AREA));
        assert_eq!(phone(PER_AREA), "+13122000000");
    }
}
