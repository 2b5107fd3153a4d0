//! The CSV import's parsing: any bytes as a file, read record by record as the importer
//! reads them, the header checked, every row parsed into a contact or a rejection. (The
//! database side of an import is covered by the API tests.)

use control_plane::imports::csv::Header;
use control_plane::imports::{Contacts, Dnc, Kind};
use csv_async::{AsyncReaderBuilder, ByteRecord, Trim};
use proptest::prelude::*;
use uuid::Uuid;

/// Files that are CSV-shaped some of the time.
fn csv_like() -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        "[+]?[0-9 ()-]{0,16}",
        "\\PC{0,12}",
        "\"[^\"]{0,8}\"",
        Just("phone".to_string()),
        Just("consent_kind".to_string()),
        Just("written".to_string()),
        Just("2026-01-31T12:00:00Z".to_string()),
    ];
    let row = prop::collection::vec(cell, 0..6).prop_map(|cells| cells.join(","));
    prop_oneof![
        prop::collection::vec(row, 0..8).prop_map(|rows| {
            let mut file = String::from("phone,name,timezone,consent_kind,consent_at\n");
            file.push_str(&rows.join("\n"));
            file.into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..512),
    ]
}

/// Reads `file` as the importer does and parses every row as kind `K`.
fn import<K: Kind>(file: &[u8]) -> usize {
    futures::executor::block_on(async {
        let mut csv = AsyncReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(Trim::All)
            .create_reader(file);
        let Ok(header) = csv.byte_headers().await else {
            return 0;
        };
        let Ok(header) = Header::parse(header) else {
            return 0;
        };
        let Ok(layout) = K::layout(&header) else {
            return 0;
        };
        let mut record = ByteRecord::new();
        let mut rows = 0;
        while let Ok(true) = csv.read_byte_record(&mut record).await {
            if record.len() == header.len() {
                let _ = K::parse(&layout, &record, Some("US"));
            }
            rows += 1;
        }
        rows
    })
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn any_file_is_read_and_every_row_parsed_without_panicking(file in csv_like()) {
        let rows = import::<Contacts>(&file);
        prop_assert_eq!(import::<Dnc>(&file), rows, "both kinds read the same records");
    }
}

#[test]
fn the_kinds_used_here_are_the_importers() {
    // A contacts import into some list and a DNC import: the same `Kind`s the API uses.
    assert_eq!(Contacts::new(Uuid::nil()).list_id(), Some(Uuid::nil()));
    assert_eq!(Dnc.list_id(), None);
}
