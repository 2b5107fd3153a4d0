//! Assistants and their versions. An update writes a new version row and moves the
//! assistant's `current_version` in one transaction.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::assistant::AssistantDefinition;

#[derive(Debug, Clone)]
pub struct AssistantRow {
    pub id: Uuid,
    pub name: String,
    pub current_version: i32,
    pub definition: Json<AssistantDefinition>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version: i32,
    pub name: String,
    pub definition: Json<AssistantDefinition>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(
    db: &PgPool,
    org_id: Uuid,
    name: &str,
    definition: &AssistantDefinition,
) -> sqlx::Result<AssistantRow> {
    let mut tx = db.begin().await?;
    let row = sqlx::query_as!(
        AssistantRow,
        r#"insert into assistants (id, org_id, name, current_version, definition)
           values ($1, $2, $3, 1, $4)
           returning id, name, current_version,
                     definition as "definition: Json<AssistantDefinition>", created_at, updated_at"#,
        Uuid::now_v7(),
        org_id,
        name,
        Json(definition) as _
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into assistant_versions (assistant_id, org_id, version, name, definition)
         values ($1, $2, 1, $3, $4)",
        row.id,
        org_id,
        name,
        Json(definition) as _
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn get(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<AssistantRow>> {
    sqlx::query_as!(
        AssistantRow,
        r#"select id, name, current_version,
                  definition as "definition: Json<AssistantDefinition>", created_at, updated_at
           from assistants where org_id = $1 and id = $2"#,
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn list(
    db: &PgPool,
    org_id: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<AssistantRow>, i64)> {
    let rows = sqlx::query_as!(
        AssistantRow,
        r#"select id, name, current_version,
                  definition as "definition: Json<AssistantDefinition>", created_at, updated_at
           from assistants where org_id = $1
           order by created_at desc limit $2 offset $3"#,
        org_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from assistants where org_id = $1"#,
        org_id
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

/// Writes a new version; `None` when the organization has no such assistant.
pub async fn update(
    db: &PgPool,
    org_id: Uuid,
    id: Uuid,
    name: &str,
    definition: &AssistantDefinition,
) -> sqlx::Result<Option<AssistantRow>> {
    let mut tx = db.begin().await?;
    // The row lock serialises concurrent edits, so version numbers never collide.
    let row = sqlx::query_as!(
        AssistantRow,
        r#"update assistants
           set name = $3, definition = $4, current_version = current_version + 1
           where org_id = $1 and id = $2
           returning id, name, current_version,
                     definition as "definition: Json<AssistantDefinition>", created_at, updated_at"#,
        org_id,
        id,
        name,
        Json(definition) as _
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    sqlx::query!(
        "insert into assistant_versions (assistant_id, org_id, version, name, definition)
         values ($1, $2, $3, $4, $5)",
        row.id,
        org_id,
        row.current_version,
        name,
        Json(definition) as _
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(row))
}

pub async fn versions(
    db: &PgPool,
    org_id: Uuid,
    id: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<VersionRow>, i64)> {
    let rows = sqlx::query_as!(
        VersionRow,
        r#"select version, name, definition as "definition: Json<AssistantDefinition>", created_at
           from assistant_versions where org_id = $1 and assistant_id = $2
           order by version desc limit $3 offset $4"#,
        org_id,
        id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from assistant_versions where org_id = $1 and assistant_id = $2"#,
        org_id,
        id
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

/// Deletes the assistant; `Ok(false)` when there is none. Fails with a foreign-key
/// violation while a campaign still uses it.
pub async fn delete(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from assistants where org_id = $1 and id = $2",
        org_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}
