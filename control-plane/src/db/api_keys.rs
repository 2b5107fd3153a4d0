//! API keys: only the hash is stored; the key itself is shown once at creation.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    db: &PgPool,
    org_id: Uuid,
    created_by: Option<Uuid>,
    name: &str,
    prefix: &str,
    key_hash: &str,
) -> sqlx::Result<ApiKeyRow> {
    sqlx::query_as!(
        ApiKeyRow,
        "insert into api_keys (id, org_id, name, prefix, key_hash, created_by)
         values ($1, $2, $3, $4, $5, $6)
         returning id, name, prefix, created_at, last_used_at, revoked_at",
        Uuid::now_v7(),
        org_id,
        name,
        prefix,
        key_hash,
        created_by
    )
    .fetch_one(db)
    .await
}

pub async fn list(
    db: &PgPool,
    org_id: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<ApiKeyRow>, i64)> {
    let rows = sqlx::query_as!(
        ApiKeyRow,
        "select id, name, prefix, created_at, last_used_at, revoked_at from api_keys
         where org_id = $1 order by created_at desc limit $2 offset $3",
        org_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        "select count(*) as \"n!\" from api_keys where org_id = $1",
        org_id
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

/// Revokes the key; `None` when the organization has no such key. `revoked_at` is an
/// audit stamp on the database's clock: what refuses the key is that it is set at all.
pub async fn revoke(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<ApiKeyRow>> {
    sqlx::query_as!(
        ApiKeyRow,
        "update api_keys set revoked_at = coalesce(revoked_at, now())
         where org_id = $1 and id = $2
         returning id, name, prefix, created_at, last_used_at, revoked_at",
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}
