//! What differs between importing contacts and Do-Not-Call numbers: which columns the
//! CSV may have, what a valid row is, and which statement writes a batch.

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use csv_async::ByteRecord;
use uuid::Uuid;

use super::csv::{cell, Header};
use super::BATCH_ROWS;
use crate::db::contact_batch::ContactBatch;
use crate::db::dnc::DncBatch;
use crate::db::imports::Duplicate;
use crate::db::Tx;
use crate::domain::contact::{parse_phone, ContactFields, ParsedContact, RowRejection};
use shared::PhoneNumber;

/// One kind of import. The engine is generic over it, so each kind's rows and batches
/// are plain typed values.
pub trait Kind: Clone + Send + Sync + 'static {
    /// A row that passed validation.
    type Record: Send;
    /// Where each known column is in the file.
    type Layout: Send + Sync;
    /// Valid rows waiting for their statement.
    type Batch: Send + Sync + 'static;

    /// The `imports.kind` value.
    const NAME: &'static str;
    /// Why a row whose number was stored before the import is rejected.
    const ALREADY_STORED: &'static str;

    /// The contact list written to, if any.
    fn list_id(&self) -> Option<Uuid>;
    fn layout(header: &Header) -> Result<Self::Layout, String>;
    fn phone_column(layout: &Self::Layout) -> usize;
    fn parse(
        layout: &Self::Layout,
        record: &ByteRecord,
        default_country: Option<&str>,
    ) -> Result<Self::Record, RowRejection>;
    /// An empty batch with room for [`BATCH_ROWS`] rows.
    fn new_batch() -> Self::Batch;
    /// Empties a written batch so it can be filled again without reallocating.
    fn clear(batch: &mut Self::Batch);
    fn push(batch: &mut Self::Batch, row: i64, record: Self::Record);
    /// The E.164 number of a valid row: rows with the same number go to the same writer.
    fn phone(record: &Self::Record) -> &str;
    fn len(batch: &Self::Batch) -> usize;
    /// Writes the batch, stamped `created_at`; returns the rows refused
    /// as duplicates.
    fn insert<'a>(
        &'a self,
        batch: &'a Self::Batch,
        tx: &'a mut Tx<'_>,
        org_id: Uuid,
        created_at: DateTime<Utc>,
    ) -> impl Future<Output = sqlx::Result<Vec<Duplicate>>> + Send + 'a;
}

/// The column names that mean "the phone number".
const PHONE_COLUMNS: &[&str] = &["phone", "phone_number", "number"];

fn phone_column(header: &Header) -> Result<usize, String> {
    header.column(PHONE_COLUMNS)?.ok_or_else(|| {
        "the CSV has no phone column (expected a header named phone, phone_number or number)"
            .to_string()
    })
}

/// Contacts into one list.
#[derive(Debug, Clone)]
pub struct Contacts {
    list_id: Uuid,
    /// Cleared once a row of this import meets a number the list already holds: from then
    /// on every batch skips conflicts instead of trying a plain insert first
    /// ([`ContactBatch::insert`]). Shared by the import's writers.
    unseen: Arc<AtomicBool>,
}

impl Contacts {
    pub fn new(list_id: Uuid) -> Self {
        Self {
            list_id,
            unseen: Arc::new(AtomicBool::new(true)),
        }
    }
}

#[derive(Debug)]
pub struct ContactLayout {
    phone: usize,
    name: Option<usize>,
    email: Option<usize>,
    timezone: Option<usize>,
    consent_kind: Option<usize>,
    consent_source: Option<usize>,
    consent_at: Option<usize>,
    /// Every other named column, by its header as written.
    variables: Vec<(usize, String)>,
}

impl Kind for Contacts {
    type Record = ParsedContact;
    type Layout = ContactLayout;
    type Batch = ContactBatch;
    const NAME: &'static str = "contacts";
    const ALREADY_STORED: &'static str = "duplicate phone: already in the list";

    fn list_id(&self) -> Option<Uuid> {
        Some(self.list_id)
    }

    fn layout(header: &Header) -> Result<ContactLayout, String> {
        let phone = phone_column(header)?;
        let name = header.column(&["name"])?;
        let email = header.column(&["email"])?;
        let timezone = header.column(&["timezone"])?;
        let consent_kind = header.column(&["consent_kind", "consent"])?;
        let consent_source = header.column(&["consent_source"])?;
        let consent_at = header.column(&["consent_at"])?;
        let known = [
            Some(phone),
            name,
            email,
            timezone,
            consent_kind,
            consent_source,
            consent_at,
        ];
        let variables = header
            .names()
            .enumerate()
            .filter(|(index, name)| !name.is_empty() && !known.contains(&Some(*index)))
            .map(|(index, name)| (index, name.to_string()))
            .collect();
        Ok(ContactLayout {
            phone,
            name,
            email,
            timezone,
            consent_kind,
            consent_source,
            consent_at,
            variables,
        })
    }

    fn phone_column(layout: &ContactLayout) -> usize {
        layout.phone
    }

    fn parse(
        layout: &ContactLayout,
        record: &ByteRecord,
        default_country: Option<&str>,
    ) -> Result<ParsedContact, RowRejection> {
        let optional = |index: Option<usize>| match index {
            Some(index) => cell(record, index),
            None => Ok(None),
        };
        let mut variables = Vec::with_capacity(layout.variables.len());
        for (index, name) in &layout.variables {
            variables.push((name.as_str(), cell(record, *index)?.unwrap_or("")));
        }
        let fields = ContactFields {
            phone: cell(record, layout.phone)?,
            name: optional(layout.name)?,
            email: optional(layout.email)?,
            timezone: optional(layout.timezone)?,
            variables,
            consent_kind: optional(layout.consent_kind)?,
            consent_source: optional(layout.consent_source)?,
            consent_at: optional(layout.consent_at)?,
        };
        ParsedContact::parse(&fields, default_country)
    }

    fn new_batch() -> ContactBatch {
        ContactBatch::with_capacity(BATCH_ROWS)
    }

    fn clear(batch: &mut ContactBatch) {
        batch.clear();
    }

    fn push(batch: &mut ContactBatch, row: i64, record: ParsedContact) {
        batch.push(row, record);
    }

    fn phone(record: &ParsedContact) -> &str {
        record.phone.as_str()
    }

    fn len(batch: &ContactBatch) -> usize {
        batch.len()
    }

    fn insert<'a>(
        &'a self,
        batch: &'a ContactBatch,
        tx: &'a mut Tx<'_>,
        org_id: Uuid,
        created_at: DateTime<Utc>,
    ) -> impl Future<Output = sqlx::Result<Vec<Duplicate>>> + Send + 'a {
        batch.insert(tx, org_id, self.list_id, created_at, &self.unseen)
    }
}

/// Numbers for the organization's Do-Not-Call list.
#[derive(Debug, Clone, Copy)]
pub struct Dnc;

#[derive(Debug)]
pub struct DncLayout {
    phone: usize,
    reason: Option<usize>,
}

/// A Do-Not-Call row that may be stored.
#[derive(Debug)]
pub struct DncRecord {
    pub phone: PhoneNumber,
    pub reason: Option<String>,
}

/// Longest reason kept; longer text is refused rather than cut, so nothing is lost quietly.
pub const MAX_DNC_REASON: usize = 500;

impl Kind for Dnc {
    type Record = DncRecord;
    type Layout = DncLayout;
    type Batch = DncBatch;
    const NAME: &'static str = "dnc";
    const ALREADY_STORED: &'static str = "duplicate phone: already on the Do-Not-Call list";

    fn list_id(&self) -> Option<Uuid> {
        None
    }

    fn layout(header: &Header) -> Result<DncLayout, String> {
        Ok(DncLayout {
            phone: phone_column(header)?,
            reason: header.column(&["reason"])?,
        })
    }

    fn phone_column(layout: &DncLayout) -> usize {
        layout.phone
    }

    fn parse(
        layout: &DncLayout,
        record: &ByteRecord,
        default_country: Option<&str>,
    ) -> Result<DncRecord, RowRejection> {
        let phone = parse_phone(cell(record, layout.phone)?, default_country)?;
        let reason = match layout.reason {
            Some(index) => cell(record, index)?,
            None => None,
        };
        if reason.is_some_and(|r| r.chars().count() > MAX_DNC_REASON) {
            return Err(RowRejection::new(
                Some(phone.to_string()),
                format!("reason is longer than {MAX_DNC_REASON} characters"),
            ));
        }
        Ok(DncRecord {
            phone,
            reason: reason.map(str::to_string),
        })
    }

    fn new_batch() -> DncBatch {
        DncBatch::with_capacity(BATCH_ROWS)
    }

    fn clear(batch: &mut DncBatch) {
        batch.clear();
    }

    fn push(batch: &mut DncBatch, row: i64, record: DncRecord) {
        batch.push(row, record.phone, record.reason);
    }

    fn phone(record: &DncRecord) -> &str {
        record.phone.as_str()
    }

    fn len(batch: &DncBatch) -> usize {
        batch.len()
    }

    fn insert<'a>(
        &'a self,
        batch: &'a DncBatch,
        tx: &'a mut Tx<'_>,
        org_id: Uuid,
        created_at: DateTime<Utc>,
    ) -> impl Future<Output = sqlx::Result<Vec<Duplicate>>> + Send + 'a {
        batch.insert(tx, org_id, created_at)
    }
}
