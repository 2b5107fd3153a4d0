//! Calls and what they produced (transcript entries, recordings), as the API reads them.
//! Calls are written by the engine and the workers' events, not here; the one write is
//! an operator setting the outcome.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use shared::{CallOutcome, CallStatus};

#[derive(Debug, Clone)]
pub struct CallRow {
    pub id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub assistant_id: Option<Uuid>,
    pub assistant_version: Option<i32>,
    pub trunk_id: Option<Uuid>,
    pub mode: String,
    /// `outbound` or `inbound`.
    pub direction: String,
    pub to_phone: String,
    pub from_phone: Option<String>,
    pub status: String,
    pub answered_by: Option<String>,
    pub outcome: Option<String>,
    pub outcome_notes: Option<String>,
    pub provider_call_id: Option<String>,
    pub room_name: Option<String>,
    pub variables: Value,
    pub started_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_sec: Option<i32>,
    pub end_reason: Option<String>,
    pub cost_cents: f64,
    pub cost_breakdown: Value,
    pub latency: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which calls a list shows; every field narrows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallFilter {
    pub campaign_id: Option<Uuid>,
    pub status: Option<CallStatus>,
    pub outcome: Option<CallOutcome>,
    /// Calls created at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Calls created before this instant.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct TranscriptRow {
    pub start_ms: i64,
    pub end_ms: i64,
    pub speaker: String,
    pub text: String,
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct RecordingRow {
    pub id: Uuid,
    pub location: String,
    pub format: String,
    pub channels: i16,
    pub duration_sec: Option<f64>,
    pub size_bytes: Option<i64>,
    pub created_at: DateTime<Utc>,
}

pub async fn get(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<CallRow>> {
    sqlx::query_as!(
        CallRow,
        "select id, campaign_id, contact_id, assistant_id, assistant_version, trunk_id, mode,
                direction, to_phone, from_phone, status, answered_by, outcome, outcome_notes,
                provider_call_id, room_name, variables, started_at, answered_at, ended_at,
                duration_sec, end_reason, cost_cents, cost_breakdown, latency, created_at,
                updated_at
         from calls where org_id = $1 and id = $2",
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// One page of the organization's calls, newest first, and how many match in all.
pub async fn list(
    db: &PgPool,
    org_id: Uuid,
    filter: CallFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<CallRow>, i64)> {
    let status = filter.status.map(CallStatus::as_str);
    let outcome = filter.outcome.map(CallOutcome::as_str);
    let rows = sqlx::query_as!(
        CallRow,
        "select id, campaign_id, contact_id, assistant_id, assistant_version, trunk_id, mode,
                direction, to_phone, from_phone, status, answered_by, outcome, outcome_notes,
                provider_call_id, room_name, variables, started_at, answered_at, ended_at,
                duration_sec, end_reason, cost_cents, cost_breakdown, latency, created_at,
                updated_at
         from calls
         where org_id = $1 and ($2::uuid is null or campaign_id = $2)
           and ($3::text is null or status = $3) and ($4::text is null or outcome = $4)
           and ($7::timestamptz is null or created_at >= $7)
           and ($8::timestamptz is null or created_at < $8)
         order by created_at desc, id desc limit $5 offset $6",
        org_id,
        filter.campaign_id,
        status,
        outcome,
        limit,
        offset,
        filter.from,
        filter.until
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from calls
           where org_id = $1 and ($2::uuid is null or campaign_id = $2)
             and ($3::text is null or status = $3) and ($4::text is null or outcome = $4)
             and ($5::timestamptz is null or created_at >= $5)
             and ($6::timestamptz is null or created_at < $6)"#,
        org_id,
        filter.campaign_id,
        status,
        outcome,
        filter.from,
        filter.until
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

/// Sets the outcome an operator decided on; `false` when there is no such call.
pub async fn set_outcome(
    db: &PgPool,
    org_id: Uuid,
    id: Uuid,
    outcome: CallOutcome,
    notes: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update calls set outcome = $3, outcome_notes = $4 where org_id = $1 and id = $2",
        org_id,
        id,
        outcome.as_str(),
        notes
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn exists(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from calls where org_id = $1 and id = $2) as "found!""#,
        org_id,
        id
    )
    .fetch_one(db)
    .await
}

/// The call's transcript in the order it was spoken.
pub async fn transcript<'e>(
    db: impl sqlx::PgExecutor<'e>,
    org_id: Uuid,
    call_id: Uuid,
) -> sqlx::Result<Vec<TranscriptRow>> {
    sqlx::query_as!(
        TranscriptRow,
        "select start_ms, end_ms, speaker, text, confidence from transcript_entries
         where org_id = $1 and call_id = $2 order by start_ms, id",
        org_id,
        call_id
    )
    .fetch_all(db)
    .await
}

pub async fn recordings<'e>(
    db: impl sqlx::PgExecutor<'e>,
    org_id: Uuid,
    call_id: Uuid,
) -> sqlx::Result<Vec<RecordingRow>> {
    sqlx::query_as!(
        RecordingRow,
        "select id, location, format, channels, duration_sec, size_bytes, created_at
         from recordings where org_id = $1 and call_id = $2 order by created_at, id",
        org_id,
        call_id
    )
    .fetch_all(db)
    .await
}
