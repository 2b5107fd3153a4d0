//! An organization's compliance settings and a contact's dial history.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Whether the organization may save assistants that fail the disclosure check.
pub async fn allows_undisclosed_assistants(db: &PgPool, org_id: Uuid) -> sqlx::Result<bool> {
    let allowed = sqlx::query_scalar!(
        "select allow_undisclosed_assistants from organizations where id = $1",
        org_id
    )
    .fetch_optional(db)
    .await?;
    Ok(allowed.unwrap_or(false))
}

pub async fn set_allow_undisclosed_assistants(
    db: &PgPool,
    org_id: Uuid,
    allowed: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update organizations set allow_undisclosed_assistants = $2 where id = $1",
        org_id,
        allowed
    )
    .execute(db)
    .await?;
    Ok(())
}

/// One line of a contact's history: a decision of the engine on one of its attempts.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub decided_at: DateTime<Utc>,
    pub campaign_id: Uuid,
    pub campaign_name: String,
    pub attempt_id: Uuid,
    pub decision: String,
    pub detail: Option<String>,
}

/// Whether the organization has this contact.
pub async fn contact_exists(db: &PgPool, org_id: Uuid, contact: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from contacts where org_id = $1 and id = $2) as "found!""#,
        org_id,
        contact
    )
    .fetch_one(db)
    .await
}

/// Every decision on the contact's attempts, in the order they were made (at most
/// `limit`, from `offset`), and how many there are.
pub async fn contact_history(
    db: &PgPool,
    org_id: Uuid,
    contact: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<HistoryRow>, i64)> {
    let rows = sqlx::query_as!(
        HistoryRow,
        "select d.decided_at, d.campaign_id, c.name as campaign_name, d.attempt_id,
                d.decision, d.detail
         from campaign_attempts a
         join attempt_decisions d on d.attempt_id = a.id
         join campaigns c on c.id = d.campaign_id
         where a.org_id = $1 and a.contact_id = $2 and d.org_id = $1
         order by d.decided_at, d.id
         limit $3 offset $4",
        org_id,
        contact,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!"
           from campaign_attempts a join attempt_decisions d on d.attempt_id = a.id
           where a.org_id = $1 and a.contact_id = $2 and d.org_id = $1"#,
        org_id,
        contact
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}
