//! Imports and their per-row error reports. Counters are bumped in the same transaction
//! as each batch, so a running or broken import shows exactly what was committed.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::Tx;
use crate::imports::{RowError, MAX_STORED_ERRORS};

#[derive(Debug, Clone)]
pub struct ImportRow {
    pub id: Uuid,
    pub kind: String,
    pub list_id: Option<Uuid>,
    pub status: String,
    pub default_country: Option<String>,
    pub total_rows: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A batch row that was not inserted because its phone is already taken.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub row: i64,
    pub phone: String,
    /// The row of the same batch that was kept, when it is not this one.
    pub first_row: Option<i64>,
    /// When the number was stored, if it was stored before the batch's statement ran.
    pub existing_since: Option<DateTime<Utc>>,
}

/// Records a running import; returns its start time.
pub async fn create(
    db: &PgPool,
    org_id: Uuid,
    id: Uuid,
    kind: &str,
    list_id: Option<Uuid>,
    default_country: Option<&str>,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar!(
        "insert into imports (id, org_id, kind, list_id, status, default_country)
         values ($1, $2, $3, $4, 'running', $5)
         returning created_at",
        id,
        org_id,
        kind,
        list_id,
        default_country
    )
    .fetch_one(db)
    .await
}

/// Lets the batch's transaction commit without waiting for its WAL to reach the disk.
///
/// An import commits a batch every few thousand rows; waiting for each flush left both the
/// parser and the database idle. This is safe for the import's answer: [`finish`] commits
/// synchronously, and its flush covers every earlier commit (the WAL is one sequence), so
/// an import reported complete is on disk. A crash before that loses at most the last
/// batches committed, together with the counters committed beside them.
pub async fn commit_without_waiting_for_disk(tx: &mut Tx<'_>) -> sqlx::Result<()> {
    sqlx::query("set local synchronous_commit = off")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The database's clock: the `created_at` of a batch's rows, read once for all the
/// transactions that write it, after the previous batch committed (so later batches
/// never sort before earlier ones, and every row of an import is stamped at or after
/// the import's own `created_at`).
pub async fn clock(db: &PgPool) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar!(r#"select now() as "now!""#)
        .fetch_one(db)
        .await
}

/// Adds one batch's outcome to the counters.
pub async fn add_progress(
    tx: &mut Tx<'_>,
    id: Uuid,
    accepted: i64,
    rejected: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update imports set accepted = accepted + $2, rejected = rejected + $3,
                total_rows = total_rows + $2 + $3
         where id = $1",
        id,
        accepted,
        rejected
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores rejected rows. The engine decides which (the first [`MAX_STORED_ERRORS`] of an
/// import by row): a batch is written by several transactions at once, and none of them
/// can see what the others store before they commit.
pub async fn insert_errors(tx: &mut Tx<'_>, id: Uuid, errors: &[RowError]) -> sqlx::Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let rows: Vec<i64> = errors.iter().map(|e| e.row).collect();
    let phones: Vec<Option<String>> = errors.iter().map(|e| e.phone.clone()).collect();
    let reasons: Vec<String> = errors.iter().map(|e| e.reason.clone()).collect();
    sqlx::query!(
        "insert into import_errors (import_id, row_no, phone, reason)
         select $1, row_no, phone, reason
         from unnest($2::bigint[], $3::text[], $4::text[]) as t(row_no, phone, reason)",
        id,
        &rows,
        &phones as &[Option<String>],
        &reasons
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Ends the import: `completed`, or `failed` with the reason. `finished_at` is an audit
/// stamp on the database's clock; no rule reads it.
pub async fn finish(db: &PgPool, id: Uuid, failure: Option<&str>) -> sqlx::Result<()> {
    sqlx::query!(
        "update imports
         set status = case when $2::text is null then 'completed' else 'failed' end,
             failure = $2, finished_at = now()
         where id = $1 and status = 'running'",
        id,
        failure
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn get(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<ImportRow>> {
    sqlx::query_as!(
        ImportRow,
        "select id, kind, list_id, status, default_country, total_rows, accepted, rejected,
                failure, created_at, finished_at
         from imports where org_id = $1 and id = $2",
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// Newest first, optionally only the imports into one list.
pub async fn list(
    db: &PgPool,
    org_id: Uuid,
    list_id: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<ImportRow>, i64)> {
    let rows = sqlx::query_as!(
        ImportRow,
        "select id, kind, list_id, status, default_country, total_rows, accepted, rejected,
                failure, created_at, finished_at
         from imports where org_id = $1 and ($2::uuid is null or list_id = $2)
         order by created_at desc, id desc limit $3 offset $4",
        org_id,
        list_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from imports
           where org_id = $1 and ($2::uuid is null or list_id = $2)"#,
        org_id,
        list_id
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

/// A page of an import's rejected rows by row number; `None` when the organization has
/// no such import.
pub async fn errors(
    db: &PgPool,
    org_id: Uuid,
    id: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Option<(Vec<RowError>, i64)>> {
    // The stored rows, not every rejected one: past the cap only the count is kept.
    let total = sqlx::query_scalar!(
        r#"select least(rejected, $3) as "n!" from imports where org_id = $1 and id = $2"#,
        org_id,
        id,
        MAX_STORED_ERRORS
    )
    .fetch_optional(db)
    .await?;
    let Some(total) = total else {
        return Ok(None);
    };
    let rows = sqlx::query_as!(
        RowError,
        r#"select e.row_no as row, e.phone, e.reason
           from import_errors e join imports i on i.id = e.import_id
           where i.org_id = $1 and e.import_id = $2
           order by e.row_no limit $3 offset $4"#,
        org_id,
        id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    Ok(Some((rows, total)))
}
