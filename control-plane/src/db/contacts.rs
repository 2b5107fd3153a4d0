//! Contact lists and their contacts (the importer's batched insert is [`super::contact_batch`]).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::contact::ContactListFields;

/// Re-exported here, where the Do-Not-Call batch's docs link to it.
pub use super::contact_batch::ContactBatch;

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
