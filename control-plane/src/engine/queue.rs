//! SQL of the attempt queue: leasing, releasing, committing a dial, recording decisions.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// A running campaign as the engine needs it.
#[derive(Debug, Clone)]
pub(super) struct RunningCampaign {
    pub id: Uuid,
    pub org_id: Uuid,
    pub assistant_id: Uuid,
    pub trunk_id: Uuid,
    pub mode: String,
    pub timezone: String,
    pub calling_days: Vec<String>,
    pub start_hour: i16,
    pub end_hour: i16,
    pub allow_outside_legal_hours: bool,
    pub daily_cap: Option<i32>,
    pub max_concurrent_calls: i32,
    pub calls_per_minute: Option<i32>,
    pub max_attempts: i32,
    pub amd_enabled: bool,
    pub amd_timeout_sec: i32,
    pub budget_monthly_cents: Option<i32>,
    pub variables: Value,
    pub telemarketing: bool,
    pub abandonment_threshold_pct: f64,
}

/// A leased attempt and the contact behind it.
#[derive(Debug, Clone)]
pub(super) struct LeasedAttempt {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub attempts: i32,
    pub phone: String,
    pub timezone: Option<String>,
    pub name: Option<String>,
    pub contact_variables: Value,
    pub consent_kind: Option<String>,
}

pub(super) async fn running_campaigns(db: &PgPool) -> sqlx::Result<Vec<RunningCampaign>> {
    sqlx::query_as!(
        RunningCampaign,
        "select id, org_id, assistant_id, trunk_id, mode, timezone, calling_days, start_hour,
                end_hour, allow_outside_legal_hours, daily_cap, max_concurrent_calls,
                calls_per_minute, max_attempts, amd_enabled, amd_timeout_sec,
                budget_monthly_cents, variables, telemarketing, abandonment_threshold_pct
         from campaigns where status = 'running' order by id"
    )
    .fetch_all(db)
    .await
}

/// Attempts of the campaign currently leased, dialing or in a call.
pub(super) async fn in_flight(db: &PgPool, campaign: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from campaign_attempts
           where campaign_id = $1 and state in ('leased', 'dialing', 'in_call')"#,
        campaign
    )
    .fetch_one(db)
    .await
}

/// Calls the campaign created since `since` (daily cap).
pub(super) async fn calls_since(
    db: &PgPool,
    campaign: Uuid,
    since: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from calls where campaign_id = $1 and created_at >= $2"#,
        campaign,
        since
    )
    .fetch_one(db)
    .await
}

/// Money the campaign spent since `since` (monthly budget).
pub(super) async fn spent_since(
    db: &PgPool,
    campaign: Uuid,
    since: DateTime<Utc>,
) -> sqlx::Result<f64> {
    sqlx::query_scalar!(
        r#"select coalesce(sum(cost_cents), 0)::float8 as "cents!" from calls
           where campaign_id = $1 and created_at >= $2"#,
        campaign,
        since
    )
    .fetch_one(db)
    .await
}

/// Free Media Streams slots: live workers' capacity minus calls that hold or will soon
/// hold a worker (an inbound call Twilio answers alone, with a message or a voicemail,
/// holds none). Counting calls (not the workers' reports) avoids double-booking a slot
/// between a call connecting and the worker's next heartbeat.
pub async fn free_stream_slots(
    db: &PgPool,
    now: DateTime<Utc>,
    heartbeat_ttl_sec: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select (
               coalesce((select sum(capacity) from workers
                         where mode = 'twilio_stream' and not draining
                           and last_heartbeat_at > $1::timestamptz - make_interval(secs => $2::bigint)), 0)
             - (select count(*) from calls
                where mode = 'twilio_stream' and status in ('queued', 'initiated', 'ringing', 'in_progress')
                  and coalesce(inbound_action, 'assistant') = 'assistant')
           )::bigint as "free!""#,
        now,
        heartbeat_ttl_sec
    )
    .fetch_one(db)
    .await
}

/// Leases up to `limit` due attempts of `campaign` for `owner`.
pub(super) async fn lease(
    db: &PgPool,
    campaign: Uuid,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> sqlx::Result<Vec<LeasedAttempt>> {
    let expires = now + lease;
    sqlx::query_as!(
        LeasedAttempt,
        r#"with due as (
               select id from campaign_attempts
               where campaign_id = $1 and state = 'pending' and next_attempt_at <= $2
               order by next_attempt_at, id
               limit $3
               for update skip locked
           )
           update campaign_attempts a
           set state = 'leased', lease_owner = $4, lease_expires_at = $5
           from due, contacts c
           where a.id = due.id and c.id = a.contact_id
           returning a.id, a.contact_id, a.attempts, c.phone, c.timezone, c.name,
                     c.variables as contact_variables, c.consent_kind"#,
        campaign,
        now,
        limit,
        owner,
        expires
    )
    .fetch_all(db)
    .await
}

/// Gives a leased attempt back to the queue, due at `next_at`.
pub(super) async fn release<'e>(
    db: impl sqlx::PgExecutor<'e>,
    attempt: Uuid,
    owner: &str,
    next_at: DateTime<Utc>,
    reason: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update campaign_attempts
         set state = 'pending', lease_owner = null, lease_expires_at = null,
             next_attempt_at = $3, skip_reason = $4
         where id = $1 and lease_owner = $2 and state = 'leased'",
        attempt,
        owner,
        next_at,
        reason
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Ends a leased attempt without dialing: `skipped` (with a reason), `exhausted` or
/// `canceled`.
pub(super) async fn close_leased<'e>(
    db: impl sqlx::PgExecutor<'e>,
    attempt: Uuid,
    owner: &str,
    state: &str,
    reason: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update campaign_attempts
         set state = $3, skip_reason = $4, lease_owner = null, lease_expires_at = null
         where id = $1 and lease_owner = $2 and state = 'leased'",
        attempt,
        owner,
        state,
        reason
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Writes one line of the dial-decision audit (on the pool, or inside a transaction).
pub(super) async fn record_decision<'e>(
    db: impl sqlx::PgExecutor<'e>,
    campaign: &RunningCampaign,
    attempt: Uuid,
    at: DateTime<Utc>,
    decision: &str,
    detail: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into attempt_decisions (attempt_id, campaign_id, org_id, decided_at, decision, detail)
         values ($1, $2, $3, $4, $5, $6)",
        attempt,
        campaign.id,
        campaign.org_id,
        at,
        decision,
        detail
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Writes one audit line for the attempt of `call` (where only the call is at hand: a dial
/// given back after the provider refused to place it for now).
pub(super) async fn record_call_decision(
    db: &PgPool,
    call: Uuid,
    at: DateTime<Utc>,
    decision: &str,
    detail: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into attempt_decisions (attempt_id, campaign_id, org_id, decided_at, decision, detail)
         select attempt_id, campaign_id, org_id, $2, $3, $4 from calls
         where id = $1 and attempt_id is not null and campaign_id is not null",
        call,
        at,
        decision,
        detail
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Marks every due pending attempt of the campaign as waiting for `reason` (`cap`,
/// `budget`) until `until`, with one audit line each.
pub(super) async fn defer_due(
    db: &PgPool,
    campaign: &RunningCampaign,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "with deferred as (
             update campaign_attempts set next_attempt_at = $3, skip_reason = $4
             where campaign_id = $1 and state = 'pending' and next_attempt_at <= $2
             returning id
         )
         insert into attempt_decisions (attempt_id, campaign_id, org_id, decided_at, decision, detail)
         select id, $1, $5, $2, 'deferred_' || $4, 'until ' || $3::timestamptz::text from deferred",
        campaign.id,
        now,
        until,
        reason,
        campaign.org_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Which of these numbers are on the organization's Do-Not-Call list: one query for a
/// whole batch of leased attempts.
pub(super) async fn dnc_hits(
    db: &PgPool,
    org: Uuid,
    phones: &[String],
) -> sqlx::Result<HashSet<String>> {
    if phones.is_empty() {
        return Ok(HashSet::new());
    }
    let hits = sqlx::query_scalar!(
        "select phone from dnc where org_id = $1 and phone = any($2)",
        org,
        phones
    )
    .fetch_all(db)
    .await?;
    Ok(hits.into_iter().collect())
}

/// Pauses a running campaign with a reason (budget reached).
pub(super) async fn pause_campaign(db: &PgPool, campaign: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update campaigns set status = 'paused', status_reason = $2
         where id = $1 and status = 'running'",
        campaign,
        reason
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Puts a campaign in `error` (unrecoverable: bad provider credentials).
pub(super) async fn fail_campaign(db: &PgPool, campaign: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update campaigns set status = 'error', status_reason = $2
         where id = $1 and status in ('running', 'paused')",
        campaign,
        reason
    )
    .execute(db)
    .await?;
    Ok(())
}
