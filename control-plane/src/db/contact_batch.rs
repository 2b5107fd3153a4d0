//! The importer's batched insert of contacts: a batch's rows column by column, its
//! repeated numbers found while it fills, and one plain insert per batch.
//!
//! Finding a batch's repeated numbers here rather than in SQL is what keeps the statement
//! cheap: PostgreSQL no longer materializes, sorts and joins the batch to find them (the
//! `distinct on` over the batch, the join back to it and the anti-join against what was
//! inserted cost about as much as the insert's own index entries). What only the database
//! knows, numbers the list already holds, costs nothing until it happens: a batch goes in
//! without a conflict clause, and only a batch that meets a stored number is inserted
//! again skipping conflicts and asks which rows were skipped (see
//! [`ContactBatch::insert`]), which an import of fresh numbers never does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use sqlx::Connection;
use uuid::Uuid;

use super::imports::Duplicate;
use super::Tx;
use crate::domain::contact::ParsedContact;

/// Valid contacts waiting to be inserted, column by column as `unnest` wants them, and
/// the rows refused because an earlier row of the batch has their number. Reused from
/// batch to batch, so its columns are allocated once per import.
#[derive(Debug)]
pub struct ContactBatch {
    ids: Vec<Uuid>,
    rows: Vec<i64>,
    phones: Vec<String>,
    names: Vec<Option<String>>,
    emails: Vec<Option<String>>,
    timezones: Vec<Option<String>>,
    consent_kinds: Vec<Option<String>>,
    consent_sources: Vec<Option<String>>,
    consent_ats: Vec<Option<DateTime<Utc>>>,
    /// JSON text: smaller than a `serde_json::Value` tree while it waits.
    variables: Vec<String>,
    /// The first row of each number in the batch. Rows arrive in file order, so the first
    /// seen is the lowest, the one that is kept.
    first_rows: HashMap<String, i64>,
    /// Later rows of a number the batch already holds.
    repeated: Vec<Duplicate>,
}

/// The batch's insert statement followed by `$tail` (nothing, or a conflict clause), on
/// `$executor`: one text and one list of arguments for both ways of inserting.
macro_rules! insert_rows {
    ($batch:expr, $executor:expr, $org_id:expr, $list_id:expr, $created_at:expr, $tail:literal) => {
        sqlx::query!(
            "insert into contacts (id, org_id, list_id, phone, name, email, timezone,
                                   variables, consent_kind, consent_source, consent_at,
                                   created_at)
             select id, $1, $2, phone, name, email, timezone, variables::jsonb,
                    consent_kind, consent_source, consent_at, $12
             from unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::text[], $10::text[], $11::timestamptz[])
                 as t(id, phone, name, email, timezone, variables, consent_kind,
                      consent_source, consent_at)"
                + $tail,
            $org_id,
            $list_id,
            &$batch.ids,
            &$batch.phones,
            &$batch.names as &[Option<String>],
            &$batch.emails as &[Option<String>],
            &$batch.timezones as &[Option<String>],
            &$batch.variables,
            &$batch.consent_kinds as &[Option<String>],
            &$batch.consent_sources as &[Option<String>],
            &$batch.consent_ats as &[Option<DateTime<Utc>>],
            $created_at
        )
        .execute($executor)
        .await
    };
}

/// Whether an insert failed on a number the list already holds (`unique (list_id, phone)`).
fn is_stored_number(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|db| {
        db.code().as_deref() == Some("23505")
            && db.constraint() == Some("contacts_list_id_phone_key")
    })
}

impl ContactBatch {
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            ids: Vec::with_capacity(rows),
            rows: Vec::with_capacity(rows),
            phones: Vec::with_capacity(rows),
            names: Vec::with_capacity(rows),
            emails: Vec::with_capacity(rows),
            timezones: Vec::with_capacity(rows),
            consent_kinds: Vec::with_capacity(rows),
            consent_sources: Vec::with_capacity(rows),
            consent_ats: Vec::with_capacity(rows),
            variables: Vec::with_capacity(rows),
            first_rows: HashMap::with_capacity(rows),
            repeated: Vec::new(),
        }
    }

    /// Empties the batch and keeps its capacity.
    pub fn clear(&mut self) {
        self.ids.clear();
        self.rows.clear();
        self.phones.clear();
        self.names.clear();
        self.emails.clear();
        self.timezones.clear();
        self.consent_kinds.clear();
        self.consent_sources.clear();
        self.consent_ats.clear();
        self.variables.clear();
        self.first_rows.clear();
        self.repeated.clear();
    }

    /// Adds a row; rows must come in file order (the first row of a number is kept).
    pub fn push(&mut self, row: i64, contact: ParsedContact) {
        let phone = String::from(contact.phone);
        if let Some(&first) = self.first_rows.get(&phone) {
            self.repeated.push(Duplicate {
                row,
                phone,
                first_row: Some(first),
                existing_since: None,
            });
            return;
        }
        self.first_rows.insert(phone.clone(), row);
        // v7 ids sort by creation, so a list reads back in file order.
        self.ids.push(Uuid::now_v7());
        self.rows.push(row);
        self.phones.push(phone);
        self.names.push(contact.name);
        self.emails.push(contact.email);
        self.timezones.push(contact.timezone);
        let consent = contact.consent;
        self.consent_kinds
            .push(consent.as_ref().map(|c| c.kind.as_str().to_string()));
        self.consent_sources
            .push(consent.as_ref().and_then(|c| c.source.clone()));
        self.consent_ats.push(consent.as_ref().and_then(|c| c.at));
        self.variables
            .push(serde_json::to_string(&contact.variables).unwrap_or_else(|_| "{}".into()));
    }

    /// Rows pushed, repeated numbers included.
    pub fn len(&self) -> usize {
        self.rows.len() + self.repeated.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts the batch and returns the rows that were not inserted, by row: later copies
    /// of a phone inside the batch (the lowest row wins) and phones the list already
    /// holds. `created_at` is given, not each transaction's `now()`: an import writes one
    /// batch in several transactions at once, and a list reads back in file order by
    /// (`created_at`, `id`).
    ///
    /// While `unseen` says no number of this import has met one the list holds, the rows
    /// go in with a plain insert: `on conflict do nothing` makes PostgreSQL probe the
    /// unique index before each row and confirm each speculative insertion with another
    /// WAL record, which made the same million rows take 8.0-8.5 s instead of 4.9-5.9 s
    /// (one backend, the contacts table's four indexes). A plain insert that meets a
    /// stored number fails, is rolled back to its savepoint and is done again skipping
    /// conflicts, and `unseen` is cleared so the rest of the import skips conflicts at
    /// once (an upload into a list that already has its numbers pays one failed batch).
    pub async fn insert(
        &self,
        tx: &mut Tx<'_>,
        org_id: Uuid,
        list_id: Uuid,
        created_at: DateTime<Utc>,
        unseen: &AtomicBool,
    ) -> sqlx::Result<Vec<Duplicate>> {
        let mut refused = self.repeated.clone();
        if !self.rows.is_empty() {
            let mut plain = false;
            if unseen.load(Ordering::Relaxed) {
                let mut attempt = Connection::begin(&mut **tx).await?;
                match insert_rows!(self, &mut *attempt, org_id, list_id, created_at, "") {
                    Ok(_) => {
                        attempt.commit().await?;
                        plain = true;
                    }
                    Err(err) if is_stored_number(&err) => {
                        attempt.rollback().await?;
                        unseen.store(false, Ordering::Relaxed);
                    }
                    Err(err) => return Err(err),
                }
            }
            if !plain {
                let inserted = insert_rows!(
                    self,
                    &mut **tx,
                    org_id,
                    list_id,
                    created_at,
                    " on conflict (list_id, phone) do nothing"
                )?
                .rows_affected();
                if inserted < self.rows.len() as u64 {
                    refused.extend(self.already_stored(tx, list_id).await?);
                }
            }
        }
        refused.sort_unstable_by_key(|duplicate| duplicate.row);
        Ok(refused)
    }

    /// The batch's rows that the insert skipped because the list holds their number in
    /// another row, with when that row was stored. Its id is not this batch's row's, so a
    /// row inserted a moment ago by this very statement is never taken for one.
    async fn already_stored(&self, tx: &mut Tx<'_>, list_id: Uuid) -> sqlx::Result<Vec<Duplicate>> {
        sqlx::query_as!(
            Duplicate,
            r#"select t.row_no as "row!", t.phone as "phone!", null::bigint as "first_row?",
                      c.created_at as "existing_since?"
               from unnest($2::uuid[], $3::bigint[], $4::text[]) as t(id, row_no, phone)
               join contacts c on c.list_id = $1 and c.phone = t.phone
               where c.id <> t.id"#,
            list_id,
            &self.ids,
            &self.rows,
            &self.phones
        )
        .fetch_all(&mut **tx)
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use shared::PhoneNumber;

    fn contact(phone: &str) -> ParsedContact {
        ParsedContact {
            phone: PhoneNumber::parse(phone, None).unwrap(),
            name: None,
            email: None,
            timezone: None,
            variables: BTreeMap::new(),
            consent: None,
        }
    }

    #[test]
    fn a_repeated_number_is_refused_naming_its_first_row_and_still_counted() {
        let mut batch = ContactBatch::with_capacity(4);
        batch.push(2, contact("+12125550142"));
        batch.push(3, contact("+12125550143"));
        batch.push(4, contact("+12125550142"));
        batch.push(5, contact("+12125550142"));
        assert_eq!(batch.len(), 4);
        assert_eq!(batch.phones, ["+12125550142", "+12125550143"]);
        let refused: Vec<_> = batch
            .repeated
            .iter()
            .map(|d| (d.row, d.first_row))
            .collect();
        assert_eq!(refused, [(4, Some(2)), (5, Some(2))]);

        batch.clear();
        batch.push(6, contact("+12125550142"));
        assert!(
            batch.repeated.is_empty(),
            "a cleared batch forgets its numbers"
        );
    }
}
