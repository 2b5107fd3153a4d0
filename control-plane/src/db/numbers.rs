//! Inbound numbers (`phone_numbers`). Every query takes the caller's `org_id`, except the
//! webhook's lookup by id, whose answer is then checked against Twilio's signature.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::number::NumberDefinition;

#[derive(Debug, Clone)]
pub struct NumberRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub trunk_id: Uuid,
    pub number: String,
    pub assistant_id: Option<Uuid>,
    pub timezone: String,
    pub business_days: Vec<String>,
    pub open_hour: i16,
    pub close_hour: i16,
    pub after_hours_action: String,
    pub after_hours_message: String,
    pub no_worker_action: String,
    pub no_worker_message: String,
    pub livekit_inbound_trunk_id: Option<String>,
    pub livekit_dispatch_rule_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert(
    db: &PgPool,
    org_id: Uuid,
    id: Uuid,
    d: &NumberDefinition,
) -> sqlx::Result<NumberRow> {
    sqlx::query_as!(
        NumberRow,
        "insert into phone_numbers (id, org_id, trunk_id, number, assistant_id, timezone,
                                    business_days, open_hour, close_hour, after_hours_action,
                                    after_hours_message, no_worker_action, no_worker_message)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         returning *",
        id,
        org_id,
        d.trunk_id,
        d.number.as_str(),
        d.assistant_id,
        d.hours.timezone,
        &d.hours.days,
        d.hours.open_hour,
        d.hours.close_hour,
        d.after_hours.action.as_str(),
        d.after_hours.message.trim(),
        d.no_worker.action.as_str(),
        d.no_worker.message.trim()
    )
    .fetch_one(db)
    .await
}

pub async fn update(
    db: &PgPool,
    org_id: Uuid,
    id: Uuid,
    d: &NumberDefinition,
) -> sqlx::Result<Option<NumberRow>> {
    sqlx::query_as!(
        NumberRow,
        "update phone_numbers set trunk_id = $3, number = $4, assistant_id = $5, timezone = $6,
                business_days = $7, open_hour = $8, close_hour = $9, after_hours_action = $10,
                after_hours_message = $11, no_worker_action = $12, no_worker_message = $13
         where org_id = $1 and id = $2
         returning *",
        org_id,
        id,
        d.trunk_id,
        d.number.as_str(),
        d.assistant_id,
        d.hours.timezone,
        &d.hours.days,
        d.hours.open_hour,
        d.hours.close_hour,
        d.after_hours.action.as_str(),
        d.after_hours.message.trim(),
        d.no_worker.action.as_str(),
        d.no_worker.message.trim()
    )
    .fetch_optional(db)
    .await
}

pub async fn get(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<NumberRow>> {
    sqlx::query_as!(
        NumberRow,
        "select * from phone_numbers where org_id = $1 and id = $2",
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// The number a webhook URL names, whatever its organization: the webhook proves itself
/// with the signature of the number's own trunk account before anything is believed.
pub async fn get_for_webhook(db: &PgPool, id: Uuid) -> sqlx::Result<Option<NumberRow>> {
    sqlx::query_as!(NumberRow, "select * from phone_numbers where id = $1", id)
        .fetch_optional(db)
        .await
}

pub async fn list(
    db: &PgPool,
    org_id: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<NumberRow>, i64)> {
    let rows = sqlx::query_as!(
        NumberRow,
        "select * from phone_numbers where org_id = $1
         order by created_at desc, id desc limit $2 offset $3",
        org_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from phone_numbers where org_id = $1"#,
        org_id
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

pub async fn delete(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from phone_numbers where org_id = $1 and id = $2",
        org_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The organization's number row for `number` (E.164), if it registered one.
pub async fn find_by_number(
    db: &PgPool,
    org_id: Uuid,
    number: &str,
) -> sqlx::Result<Option<NumberRow>> {
    sqlx::query_as!(
        NumberRow,
        "select * from phone_numbers where org_id = $1 and number = $2",
        org_id,
        number
    )
    .fetch_optional(db)
    .await
}

/// Whether any number anywhere has an assistant: the engine then keeps worker slots free
/// for inbound callers.
pub async fn any_answering(db: &PgPool) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from phone_numbers where assistant_id is not null) as "any!""#
    )
    .fetch_one(db)
    .await
}
