//! The Do-Not-Call list: one row per (organization, E.164 number).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::imports::Duplicate;
use super::Tx;
use shared::PhoneNumber;

#[derive(Debug, Clone)]
pub struct DncRow {
    pub phone: String,
    pub reason: Option<String>,
    /// `api`, `import` or `call` (null for entries older than the column).
    pub source: Option<String>,
    /// The call in which the callee opted out.
    pub source_call_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Adds a number; the `bool` is true when it was new, false when it was already listed
/// (then the stored entry is returned unchanged).
pub async fn add(
    db: &PgPool,
    org_id: Uuid,
    phone: &PhoneNumber,
    reason: Option<&str>,
) -> sqlx::Result<(DncRow, bool)> {
    let inserted = sqlx::query_as!(
        DncRow,
        "insert into dnc (org_id, phone, reason, source) values ($1, $2, $3, 'api')
         on conflict (org_id, phone) do nothing
         returning phone, reason, source, source_call_id, created_at",
        org_id,
        phone.as_str(),
        reason
    )
    .fetch_optional(db)
    .await?;
    if let Some(row) = inserted {
        return Ok((row, true));
    }
    let existing = sqlx::query_as!(
        DncRow,
        "select phone, reason, source, source_call_id, created_at
         from dnc where org_id = $1 and phone = $2",
        org_id,
        phone.as_str()
    )
    .fetch_one(db)
    .await?;
    Ok((existing, false))
}

/// A page of the list, newest first, optionally only `phone`.
pub async fn list(
    db: &PgPool,
    org_id: Uuid,
    phone: Option<&PhoneNumber>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<DncRow>, i64)> {
    let phone = phone.map(PhoneNumber::as_str);
    let rows = sqlx::query_as!(
        DncRow,
        "select phone, reason, source, source_call_id, created_at from dnc
         where org_id = $1 and ($2::text is null or phone = $2)
         order by created_at desc, phone limit $3 offset $4",
        org_id,
        phone,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from dnc where org_id = $1 and ($2::text is null or phone = $2)"#,
        org_id,
        phone
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

pub async fn delete(db: &PgPool, org_id: Uuid, phone: &PhoneNumber) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from dnc where org_id = $1 and phone = $2",
        org_id,
        phone.as_str()
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Valid Do-Not-Call rows waiting to be inserted, column by column; reused like
/// [`super::contacts::ContactBatch`].
#[derive(Debug)]
pub struct DncBatch {
    rows: Vec<i64>,
    phones: Vec<String>,
    reasons: Vec<Option<String>>,
}

impl DncBatch {
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            rows: Vec::with_capacity(rows),
            phones: Vec::with_capacity(rows),
            reasons: Vec::with_capacity(rows),
        }
    }

    /// Empties the batch and keeps its capacity.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.phones.clear();
        self.reasons.clear();
    }

    pub fn push(&mut self, row: i64, phone: PhoneNumber, reason: Option<String>) {
        self.rows.push(row);
        self.phones.push(phone.into());
        self.reasons.push(reason);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Inserts the batch in one statement and returns the rows not inserted, by row: later
    /// copies of a number in the batch (the lowest row wins) and numbers the list already
    /// held, with when they were stored. Unlike [`super::contacts::ContactBatch::insert`],
    /// which finds its batch's repeated numbers in Rust as the batch fills and asks the
    /// database only when its plain insert skipped rows, this statement finds both in SQL
    /// (`distinct on` over the batch, then a join back to it). `created_at` is given for
    /// the same reason as there: a batch is written by several transactions at once.
    pub async fn insert(
        &self,
        tx: &mut Tx<'_>,
        org_id: Uuid,
        created_at: DateTime<Utc>,
    ) -> sqlx::Result<Vec<Duplicate>> {
        sqlx::query_as!(
            Duplicate,
            r#"with input as (
                   select * from unnest($2::bigint[], $3::text[], $4::text[])
                       as t(row_no, phone, reason)
               ), firsts as (
                   select distinct on (phone) * from input order by phone, row_no
               ), inserted as (
                   insert into dnc (org_id, phone, reason, source, created_at)
                   select $1, phone, reason, 'import', $5 from firsts
                   on conflict (org_id, phone) do nothing
                   returning phone
               )
               select i.row_no as "row!", i.phone as "phone!",
                      nullif(f.row_no, i.row_no) as "first_row?",
                      (select d.created_at from dnc d
                       where d.org_id = $1 and d.phone = i.phone) as "existing_since?"
               from input i
               join firsts f on f.phone = i.phone
               where i.row_no <> f.row_no
                  or not exists (select 1 from inserted n where n.phone = i.phone)
               order by i.row_no"#,
            org_id,
            &self.rows,
            &self.phones,
            &self.reasons as &[Option<String>],
            created_at
        )
        .fetch_all(&mut **tx)
        .await
    }
}
