//! Organizations and users.

use sqlx::PgPool;
use uuid::Uuid;

use super::Tx;

#[derive(Debug, Clone)]
pub struct OrganizationRow {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
}

pub async fn insert_organization(tx: &mut Tx<'_>, name: &str) -> sqlx::Result<OrganizationRow> {
    sqlx::query_as!(
        OrganizationRow,
        "insert into organizations (id, name) values ($1, $2) returning id, name",
        Uuid::now_v7(),
        name
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn insert_user(
    tx: &mut Tx<'_>,
    org_id: Uuid,
    email: &str,
    password_hash: &str,
) -> sqlx::Result<UserRow> {
    sqlx::query_as!(
        UserRow,
        "insert into users (id, org_id, email, password_hash) values ($1, $2, $3, $4)
         returning id, email, password_hash",
        Uuid::now_v7(),
        org_id,
        email,
        password_hash
    )
    .fetch_one(&mut **tx)
    .await
}

/// The user with this (lower-cased) email and their organization.
pub async fn find_user_by_email(
    db: &PgPool,
    email: &str,
) -> sqlx::Result<Option<(UserRow, OrganizationRow)>> {
    let row = sqlx::query!(
        "select u.id, u.email, u.password_hash, o.id as org_id, o.name as org_name
         from users u join organizations o on o.id = u.org_id
         where lower(u.email) = lower($1)",
        email
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| {
        (
            UserRow {
                id: r.id,
                email: r.email,
                password_hash: r.password_hash,
            },
            OrganizationRow {
                id: r.org_id,
                name: r.org_name,
            },
        )
    }))
}
