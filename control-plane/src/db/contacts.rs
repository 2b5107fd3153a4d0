//! Contact lists and their contacts, including the batched insert the importer uses.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::imports::Duplicate;
use super::Tx;
use crate::domain::contact::{ContactListFields, ParsedContact};

#[derive(Debug, Clone)]
pub struct ContactListRow {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub contact_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ContactRow {
    pub id: Uuid,
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub timezone: Option<String>,
    pub variables: Json<serde_json::Map<String, serde_json::Value>>,
    pub consent_kind: Option<String>,
    pub consent_source: Option<String>,
    pub consent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_list(
    db: &PgPool,
    org_id: Uuid,
    list: &ContactListFields,
) -> sqlx::Result<ContactListRow> {
    sqlx::query_as!(
        ContactListRow,
        r#"insert into contact_lists (id, org_id, name, description) values ($1, $2, $3, $4)
           returning id, name, description, 0::bigint as "contact_count!", created_at, updated_at"#,
        Uuid::now_v7(),
        org_id,
        list.name,
        list.description
    )
    .fetch_one(db)
    .await
}

pub async fn get_list(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<ContactListRow>> {
    sqlx::query_as!(
        ContactListRow,
        r#"select l.id, l.name, l.description, l.created_at, l.updated_at,
                  (select count(*) from contacts c where c.list_id = l.id) as "contact_count!"
           from contact_lists l where l.org_id = $1 and l.id = $2"#,
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// Whether the organization owns the list (cheaper than [`get_list`], which counts).
pub async fn list_exists(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from contact_lists where org_id = $1 and id = $2) as "exists!""#,
        org_id,
        id
    )
    .fetch_one(db)
    .await
}

pub async fn lists(
    db: &PgPool,
    org_id: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<ContactListRow>, i64)> {
    let rows = sqlx::query_as!(
        ContactListRow,
        r#"select l.id, l.name, l.description, l.created_at, l.updated_at,
                  (select count(*) from contacts c where c.list_id = l.id) as "contact_count!"
           from contact_lists l where l.org_id = $1
           order by l.created_at desc, l.id desc limit $2 offset $3"#,
        org_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from contact_lists where org_id = $1"#,
        org_id
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

pub async fn update_list(
    db: &PgPool,
    org_id: Uuid,
    id: Uuid,
    list: &ContactListFields,
) -> sqlx::Result<Option<ContactListRow>> {
    sqlx::query_as!(
        ContactListRow,
        r#"update contact_lists l set name = $3, description = $4
           where l.org_id = $1 and l.id = $2
           returning l.id, l.name, l.description, l.created_at, l.updated_at,
                     (select count(*) from contacts c where c.list_id = l.id) as "contact_count!""#,
        org_id,
        id,
        list.name,
        list.description
    )
    .fetch_optional(db)
    .await
}

/// Deletes the list with its contacts; `Ok(false)` when there is none. Fails with a
/// foreign-key violation while a campaign still uses it.
pub async fn delete_list(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from contact_lists where org_id = $1 and id = $2",
        org_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A page of a list's contacts in the order they were added.
/// A contacts search: text for names and emails, and the digits of a phone number.
#[derive(Debug, Clone)]
pub struct ContactSearch {
    /// `%text%` with LIKE's wildcards escaped, for `ilike`.
    text: String,
    /// `%digits%` when the search has at least two digits, else none.
    digits: Option<String>,
}

impl ContactSearch {
    /// None for a blank search (no filter).
    pub fn new(query: &str) -> Option<Self> {
        let query = query.trim();
        if query.is_empty() {
            return None;
        }
        let escaped: String = query
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let digits: String = query.chars().filter(char::is_ascii_digit).collect();
        // One digit matches nearly every number: a phone search needs two.
        Some(Self {
            text: format!("%{escaped}%"),
            digits: (digits.len() >= 2).then(|| format!("%{digits}%")),
        })
    }
}

pub async fn contacts(
    db: &PgPool,
    org_id: Uuid,
    list_id: Uuid,
    search: Option<&ContactSearch>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<ContactRow>, i64)> {
    let text = search.map(|s| s.text.as_str());
    let digits = search.and_then(|s| s.digits.as_deref());
    let rows = sqlx::query_as!(
        ContactRow,
        r#"select id, phone, name, email, timezone,
                  variables as "variables: Json<serde_json::Map<String, serde_json::Value>>",
                  consent_kind, consent_source, consent_at, created_at
           from contacts where org_id = $1 and list_id = $2
             and ($5::text is null or name ilike $5 or email ilike $5 or phone like $6)
           order by created_at, id limit $3 offset $4"#,
        org_id,
        list_id,
        limit,
        offset,
        text,
        digits
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from contacts where org_id = $1 and list_id = $2
             and ($3::text is null or name ilike $3 or email ilike $3 or phone like $4)"#,
        org_id,
        list_id,
        text,
        digits
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

pub async fn delete_contact(
    db: &PgPool,
    org_id: Uuid,
    list_id: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from contacts where org_id = $1 and list_id = $2 and id = $3",
        org_id,
        list_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Valid contacts waiting to be inserted, column by column as `unnest` wants them.
/// Reused from batch to batch, so its columns are allocated once per import.
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
    }

    pub fn push(&mut self, row: i64, contact: ParsedContact) {
        // v7 ids sort by creation, so a list reads back in file order.
        self.ids.push(Uuid::now_v7());
        self.rows.push(row);
        self.phones.push(contact.phone.into());
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

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Inserts the batch in one statement and returns the rows that were not inserted:
    /// later copies of a phone inside the batch (the lowest row wins) and phones the list
    /// already holds. `created_at` is given, not each transaction's `now()`: an import
    /// writes one batch in several transactions at once, and a list reads back in file
    /// order by (`created_at`, `id`).
    pub async fn insert(
        &self,
        tx: &mut Tx<'_>,
        org_id: Uuid,
        list_id: Uuid,
        created_at: DateTime<Utc>,
    ) -> sqlx::Result<Vec<Duplicate>> {
        // The final select reads `contacts` as it was before this statement (data-modifying
        // CTEs do not see each other's writes), so `existing_since` is only set for numbers
        // that were there before. It is a subquery per refused row, not a join: with the
        // list's statistics from when it was small, the planner hashed the whole list for
        // every batch that had a duplicate, which grew with the list.
        sqlx::query_as!(
            Duplicate,
            r#"with input as (
                   select * from unnest($3::uuid[], $4::bigint[], $5::text[], $6::text[],
                                        $7::text[], $8::text[], $9::text[], $10::text[],
                                        $11::text[], $12::timestamptz[])
                       as t(id, row_no, phone, name, email, timezone, variables,
                            consent_kind, consent_source, consent_at)
               ), firsts as (
                   select distinct on (phone) * from input order by phone, row_no
               ), inserted as (
                   insert into contacts (id, org_id, list_id, phone, name, email, timezone, variables,
                                         consent_kind, consent_source, consent_at, created_at)
                   select id, $1, $2, phone, name, email, timezone, variables::jsonb,
                          consent_kind, consent_source, consent_at, $13 from firsts
                   on conflict (list_id, phone) do nothing
                   returning phone
               )
               select i.row_no as "row!", i.phone as "phone!",
                      nullif(f.row_no, i.row_no) as "first_row?",
                      (select c.created_at from contacts c
                       where c.list_id = $2 and c.phone = i.phone) as "existing_since?"
               from input i
               join firsts f on f.phone = i.phone
               where i.row_no <> f.row_no
                  or not exists (select 1 from inserted n where n.phone = i.phone)
               order by i.row_no"#,
            org_id,
            list_id,
            &self.ids,
            &self.rows,
            &self.phones,
            &self.names as &[Option<String>],
            &self.emails as &[Option<String>],
            &self.timezones as &[Option<String>],
            &self.variables,
            &self.consent_kinds as &[Option<String>],
            &self.consent_sources as &[Option<String>],
            &self.consent_ats as &[Option<DateTime<Utc>>],
            created_at
        )
        .fetch_all(&mut **tx)
        .await
    }
}
