//! Text messages in and out (`messages`). Every read takes the caller's `org_id`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub call_id: Option<Uuid>,
    pub phone_number_id: Option<Uuid>,
    pub direction: String,
    pub from_phone: String,
    pub to_phone: String,
    pub body: String,
    pub status: String,
    pub provider_message_id: Option<String>,
    pub error_code: Option<i32>,
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A message about to be stored.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub org_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub call_id: Option<Uuid>,
    pub phone_number_id: Option<Uuid>,
    pub direction: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    pub status: &'a str,
    pub provider_message_id: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// Stores a message; an inbound one Twilio delivers twice is stored once (`None`).
pub async fn insert(db: &PgPool, m: &NewMessage<'_>) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as!(
        MessageRow,
        "insert into messages (id, org_id, contact_id, call_id, phone_number_id, direction,
                               from_phone, to_phone, body, status, provider_message_id, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         on conflict (provider_message_id) where provider_message_id is not null do nothing
         returning *",
        Uuid::now_v7(),
        m.org_id,
        m.contact_id,
        m.call_id,
        m.phone_number_id,
        m.direction,
        m.from,
        m.to,
        m.body,
        m.status,
        m.provider_message_id,
        m.at
    )
    .fetch_optional(db)
    .await
}

/// What Twilio answered to the send: its id and first status, or why it refused.
pub async fn record_sent(
    db: &PgPool,
    id: Uuid,
    sid: Option<&str>,
    status: &str,
    error_code: Option<i32>,
    error_message: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update messages set provider_message_id = coalesce($2, provider_message_id),
                status = case when message_status_rank($3) >= message_status_rank(status)
                              then $3 else status end,
                error_code = coalesce($4, error_code), error_message = coalesce($5, error_message)
         where id = $1",
        id,
        sid,
        status,
        error_code,
        error_message
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A status callback: moves the message forward only.
pub async fn advance_status(
    db: &PgPool,
    id: Uuid,
    status: &str,
    error_code: Option<i32>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update messages set status = $2, error_code = coalesce($3, error_code)
         where id = $1 and message_status_rank($2) > message_status_rank(status)",
        id,
        status,
        error_code
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as!(
        MessageRow,
        "select * from messages where org_id = $1 and id = $2",
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// One page of the organization's messages, newest first, optionally one contact's.
pub async fn list(
    db: &PgPool,
    org_id: Uuid,
    contact_id: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<MessageRow>, i64)> {
    let rows = sqlx::query_as!(
        MessageRow,
        "select * from messages where org_id = $1 and ($2::uuid is null or contact_id = $2)
         order by created_at desc, id desc limit $3 offset $4",
        org_id,
        contact_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from messages
           where org_id = $1 and ($2::uuid is null or contact_id = $2)"#,
        org_id,
        contact_id
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}
