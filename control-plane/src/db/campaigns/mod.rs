//! Campaigns: their settings here, the dial queue and life-cycle moves in [`queue`].
//!
//! Writes that depend on a campaign's status run in a transaction that first locks the
//! campaign row ([`lock_status`]), so a concurrent start cannot slip between check and write.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::Tx;
use crate::domain::campaign::CampaignSettings;

pub mod queue;

#[derive(Debug, Clone)]
pub struct CampaignRow {
    pub id: Uuid,
    pub name: String,
    pub assistant_id: Uuid,
    pub contact_list_id: Uuid,
    pub trunk_id: Uuid,
    pub mode: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub timezone: String,
    pub calling_days: Vec<String>,
    pub start_hour: i16,
    pub end_hour: i16,
    pub allow_outside_legal_hours: bool,
    pub daily_cap: Option<i32>,
    pub max_concurrent_calls: i32,
    pub calls_per_minute: Option<i32>,
    pub max_attempts: i32,
    pub retry_busy_min: i32,
    pub retry_no_answer_min: i32,
    pub retry_failed_min: i32,
    pub retry_voicemail_min: i32,
    pub amd_enabled: bool,
    pub amd_timeout_sec: i32,
    pub voicemail_action: String,
    pub budget_per_call_cents: Option<i32>,
    pub budget_monthly_cents: Option<i32>,
    pub campaign_prompt: Option<String>,
    pub variables: serde_json::Value,
    pub telemarketing: bool,
    pub abandonment_threshold_pct: f64,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the organization has of the rows a campaign refers to.
#[derive(Debug, Clone)]
pub struct References {
    pub assistant: bool,
    pub contact_list: bool,
    /// The trunk's mode, `None` when the organization has no such trunk.
    pub trunk_mode: Option<String>,
}

/// Looks up a campaign's assistant, list and trunk in the caller's organization. The
/// trunk row is share-locked so its mode cannot change before the campaign is written.
pub async fn references(
    tx: &mut Tx<'_>,
    org_id: Uuid,
    assistant_id: Uuid,
    contact_list_id: Uuid,
    trunk_id: Uuid,
) -> sqlx::Result<References> {
    let trunk_mode = sqlx::query_scalar!(
        "select mode from trunks where org_id = $1 and id = $2 for share",
        org_id,
        trunk_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    let found = sqlx::query!(
        r#"select exists(select 1 from assistants where org_id = $1 and id = $2) as "assistant!",
                  exists(select 1 from contact_lists where org_id = $1 and id = $3) as "list!""#,
        org_id,
        assistant_id,
        contact_list_id
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(References {
        assistant: found.assistant,
        contact_list: found.list,
        trunk_mode,
    })
}

pub async fn insert(
    tx: &mut Tx<'_>,
    org_id: Uuid,
    s: &CampaignSettings,
) -> sqlx::Result<CampaignRow> {
    save(tx, org_id, Uuid::now_v7(), s).await
}

/// Replaces the settings of a campaign the caller has locked with [`lock_status`].
pub async fn update(
    tx: &mut Tx<'_>,
    org_id: Uuid,
    id: Uuid,
    s: &CampaignSettings,
) -> sqlx::Result<CampaignRow> {
    save(tx, org_id, id, s).await
}

/// Inserts the campaign or replaces its settings: one statement for both, so the column
/// list is written once. The `where` keeps an update inside the caller's organization.
async fn save(
    tx: &mut Tx<'_>,
    org_id: Uuid,
    id: Uuid,
    s: &CampaignSettings,
) -> sqlx::Result<CampaignRow> {
    sqlx::query!(
        "insert into campaigns (id, org_id, name, assistant_id, contact_list_id, trunk_id, mode,
             timezone, calling_days, start_hour, end_hour, allow_outside_legal_hours, daily_cap,
             max_concurrent_calls, calls_per_minute, max_attempts, retry_busy_min,
             retry_no_answer_min, retry_failed_min, retry_voicemail_min, amd_enabled,
             amd_timeout_sec, voicemail_action, budget_per_call_cents, budget_monthly_cents,
             campaign_prompt, variables, telemarketing, abandonment_threshold_pct)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)
         on conflict (id) do update set
             name = excluded.name, assistant_id = excluded.assistant_id,
             contact_list_id = excluded.contact_list_id, trunk_id = excluded.trunk_id,
             mode = excluded.mode, timezone = excluded.timezone,
             calling_days = excluded.calling_days, start_hour = excluded.start_hour,
             end_hour = excluded.end_hour,
             allow_outside_legal_hours = excluded.allow_outside_legal_hours,
             daily_cap = excluded.daily_cap, max_concurrent_calls = excluded.max_concurrent_calls,
             calls_per_minute = excluded.calls_per_minute, max_attempts = excluded.max_attempts,
             retry_busy_min = excluded.retry_busy_min,
             retry_no_answer_min = excluded.retry_no_answer_min,
             retry_failed_min = excluded.retry_failed_min,
             retry_voicemail_min = excluded.retry_voicemail_min,
             amd_enabled = excluded.amd_enabled, amd_timeout_sec = excluded.amd_timeout_sec,
             voicemail_action = excluded.voicemail_action,
             budget_per_call_cents = excluded.budget_per_call_cents,
             budget_monthly_cents = excluded.budget_monthly_cents,
             campaign_prompt = excluded.campaign_prompt, variables = excluded.variables,
             telemarketing = excluded.telemarketing,
             abandonment_threshold_pct = excluded.abandonment_threshold_pct
         where campaigns.org_id = excluded.org_id",
        id,
        org_id,
        s.name,
        s.assistant_id,
        s.contact_list_id,
        s.trunk_id,
        s.mode.as_str(),
        s.schedule.timezone,
        &s.schedule.calling_days,
        hour(s.schedule.start_hour),
        hour(s.schedule.end_hour),
        s.allow_outside_legal_hours,
        s.daily_cap,
        s.max_concurrent_calls,
        s.calls_per_minute,
        s.max_attempts,
        s.retry.busy,
        s.retry.no_answer,
        s.retry.failed,
        s.retry.voicemail,
        s.amd.enabled,
        s.amd.timeout_sec,
        s.voicemail.action,
        s.budget.per_call_cents,
        s.budget.monthly_cents,
        s.campaign_prompt,
        serde_json::Value::Object(s.variables.clone()),
        s.telemarketing,
        s.abandonment_threshold_pct
    )
    .execute(&mut **tx)
    .await?;
    let row = get(&mut **tx, org_id, id).await?;
    row.ok_or(sqlx::Error::RowNotFound)
}

/// Hours are validated to 0..=24 before they get here.
fn hour(value: i32) -> i16 {
    i16::try_from(value).unwrap_or(i16::MAX)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    org_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<CampaignRow>> {
    sqlx::query_as!(
        CampaignRow,
        "select id, name, assistant_id, contact_list_id, trunk_id, mode, status, status_reason,
                timezone, calling_days, start_hour, end_hour, allow_outside_legal_hours,
                daily_cap, max_concurrent_calls, calls_per_minute, max_attempts, retry_busy_min,
                retry_no_answer_min, retry_failed_min, retry_voicemail_min, amd_enabled,
                amd_timeout_sec, voicemail_action, budget_per_call_cents, budget_monthly_cents,
                campaign_prompt, variables, telemarketing, abandonment_threshold_pct,
                started_at, finished_at, created_at, updated_at
         from campaigns where org_id = $1 and id = $2",
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
) -> sqlx::Result<(Vec<CampaignRow>, i64)> {
    let rows = sqlx::query_as!(
        CampaignRow,
        "select id, name, assistant_id, contact_list_id, trunk_id, mode, status, status_reason,
                timezone, calling_days, start_hour, end_hour, allow_outside_legal_hours,
                daily_cap, max_concurrent_calls, calls_per_minute, max_attempts, retry_busy_min,
                retry_no_answer_min, retry_failed_min, retry_voicemail_min, amd_enabled,
                amd_timeout_sec, voicemail_action, budget_per_call_cents, budget_monthly_cents,
                campaign_prompt, variables, telemarketing, abandonment_threshold_pct,
                started_at, finished_at, created_at, updated_at
         from campaigns where org_id = $1
         order by created_at desc, id desc limit $2 offset $3",
        org_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from campaigns where org_id = $1"#,
        org_id
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

/// Locks the campaign row for the rest of the transaction; its status, or `None` when the
/// organization has no such campaign.
pub async fn lock_status(tx: &mut Tx<'_>, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "select status from campaigns where org_id = $1 and id = $2 for update",
        org_id,
        id
    )
    .fetch_optional(&mut **tx)
    .await
}

pub async fn exists(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from campaigns where org_id = $1 and id = $2) as "found!""#,
        org_id,
        id
    )
    .fetch_one(db)
    .await
}

/// The contact list of a campaign (locked or not); `None` when there is no such campaign.
pub async fn contact_list_of(
    db: impl PgExecutor<'_>,
    org_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "select contact_list_id from campaigns where org_id = $1 and id = $2",
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// Deletes a campaign the caller has locked; its queue goes with it, its calls stay.
pub async fn delete(tx: &mut Tx<'_>, org_id: Uuid, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from campaigns where org_id = $1 and id = $2",
        org_id,
        id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
