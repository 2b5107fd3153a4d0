//! Where calls end up: the call state machine (forward only, idempotent) and the attempt
//! that follows from a call's end (done, retry later, exhausted).

use chrono::{DateTime, Utc};
use serde_json::json;
use shared::{AttemptResult, CallStatus};
use sqlx::PgPool;
use uuid::Uuid;

use super::retry::{NextStep, RetryPolicy};
use crate::db::Tx;

/// A provider's word on a call's status.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    pub status: CallStatus,
    pub at: DateTime<Utc>,
    pub provider_call_id: Option<String>,
    pub duration_sec: Option<i32>,
    pub answered_by: Option<String>,
    /// The provider's own ordering of its callbacks, when it sends one.
    pub sequence: Option<i32>,
}

/// Moves the call forward to `update.status` (never backwards; a repeat is a no-op) and,
/// when the call ended, settles its attempt. Returns whether anything changed.
pub async fn apply_call_status(
    db: &PgPool,
    call_id: Uuid,
    update: &StatusUpdate,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let changed = apply_call_status_in(&mut tx, call_id, update).await?;
    tx.commit().await?;
    Ok(changed)
}

/// [`apply_call_status`] inside the caller's transaction (a status callback verifies the
/// call and applies its status in one). The call's new status, the attempt it settles and
/// the campaign's completion commit together: a crash between them would leave an
/// attempt `dialing` behind a call that has ended.
pub async fn apply_call_status_in(
    tx: &mut Tx<'_>,
    call_id: Uuid,
    update: &StatusUpdate,
) -> sqlx::Result<bool> {
    let terminal = update.status.is_terminal();
    let row = sqlx::query!(
        r#"update calls set
               status = $2,
               provider_call_id = coalesce(provider_call_id, $3),
               started_at = coalesce(started_at, $4),
               answered_at = case when $2 = 'in_progress' then coalesce(answered_at, $4) else answered_at end,
               ended_at = case when $5 then coalesce(ended_at, $4) else ended_at end,
               duration_sec = coalesce($6, duration_sec),
               answered_by = coalesce($7, answered_by),
               sequence_seen = greatest(sequence_seen, coalesce($8, -1)),
               heard_at = greatest(heard_at, $4)
           where id = $1 and call_status_rank(status) < call_status_rank($2)
           returning answered_by, answered_at"#,
        call_id,
        update.status.as_str(),
        update.provider_call_id,
        update.at,
        terminal,
        update.duration_sec,
        update.answered_by,
        update.sequence
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    if update.status == CallStatus::InProgress {
        sqlx::query!(
            "update campaign_attempts set state = 'in_call'
             where last_call_id = $1 and state = 'dialing'",
            call_id
        )
        .execute(&mut **tx)
        .await?;
    }
    if terminal {
        let result = result_of(update.status, row.answered_by.as_deref());
        settle_attempt(tx, call_id, result, update.at).await?;
    }
    Ok(true)
}

/// The callee answered, as a dialer that waits for the answer reports it.
pub(super) fn answered(provider_call_id: &str, at: DateTime<Utc>) -> StatusUpdate {
    StatusUpdate {
        status: CallStatus::InProgress,
        at,
        provider_call_id: Some(provider_call_id.to_string()),
        duration_sec: None,
        answered_by: None,
        sequence: None,
    }
}

/// A dial that ended without an answer, for a reason the provider gave (busy, declined,
/// no answer, no worker): the call ends, and its attempt is settled with `result` by the
/// campaign's retry rules (`no_worker` re-queues it uncounted), in one transaction.
pub(super) async fn end_unanswered(
    db: &PgPool,
    call_id: Uuid,
    result: AttemptResult,
    detail: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let status = match result {
        AttemptResult::Busy => CallStatus::Busy,
        AttemptResult::NoAnswer => CallStatus::NoAnswer,
        AttemptResult::NoWorker | AttemptResult::Canceled => CallStatus::Canceled,
        _ => CallStatus::Failed,
    };
    tracing::info!(call_id = %call_id, result = %result, detail, "dial ended unanswered");
    let mut tx = db.begin().await?;
    let moved = sqlx::query!(
        "update calls set status = $2, end_reason = coalesce(end_reason, $3),
                          ended_at = coalesce(ended_at, $4), heard_at = greatest(heard_at, $4)
         where id = $1 and call_status_rank(status) < call_status_rank($2)",
        call_id,
        status.as_str(),
        result.as_str(),
        now
    )
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() == 1 {
        settle_attempt(&mut tx, call_id, result, now).await?;
    }
    tx.commit().await
}

/// The attempt result a call's final status stands for.
pub(super) fn result_of(status: CallStatus, answered_by: Option<&str>) -> AttemptResult {
    let machine = answered_by.is_some_and(|by| by.starts_with("machine") || by == "fax");
    match status {
        CallStatus::Completed if machine => AttemptResult::Voicemail,
        CallStatus::Completed => AttemptResult::Answered,
        CallStatus::Busy => AttemptResult::Busy,
        CallStatus::NoAnswer => AttemptResult::NoAnswer,
        CallStatus::Canceled => AttemptResult::Canceled,
        _ => AttemptResult::Failed,
    }
}

/// Settles the attempt whose last call is `call_id` by the campaign's retry policy.
/// Does nothing if the attempt was already settled (callbacks repeat).
pub async fn finish_attempt_for_call(
    db: &PgPool,
    call_id: Uuid,
    result: AttemptResult,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    settle_attempt(&mut tx, call_id, result, now).await?;
    tx.commit().await
}

/// Settles the attempt inside `tx`, and completes its campaign if that was the last
/// attempt left. Does nothing if the attempt was already settled (callbacks repeat).
async fn settle_attempt(
    tx: &mut Tx<'_>,
    call_id: Uuid,
    result: AttemptResult,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let row = sqlx::query!(
        "select a.id, a.attempts, a.campaign_id, a.callback_at, c.status as campaign_status, c.max_attempts,
                c.retry_busy_min, c.retry_no_answer_min, c.retry_failed_min, c.retry_voicemail_min
         from campaign_attempts a join campaigns c on c.id = a.campaign_id
         where a.last_call_id = $1 and a.state in ('dialing', 'in_call')
         for update of a",
        call_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let policy = RetryPolicy {
        max_attempts: row.max_attempts,
        busy_min: row.retry_busy_min,
        no_answer_min: row.retry_no_answer_min,
        failed_min: row.retry_failed_min,
        voicemail_min: row.retry_voicemail_min,
    };
    let mut step = policy.next_step(result, row.attempts, now);
    // A callback the callee asked for is a new appointment, not a failed try.
    if let (Some(at), AttemptResult::Answered | AttemptResult::Voicemail) =
        (row.callback_at, result)
    {
        step = NextStep::Requeue(at);
    }
    if row.campaign_status == "stopped" && matches!(step, NextStep::Retry(_) | NextStep::Requeue(_))
    {
        step = NextStep::Canceled;
    }
    let (state, next_at, uncount) = match step {
        NextStep::Done => ("done", None, false),
        NextStep::Exhausted => ("exhausted", None, false),
        NextStep::Canceled => ("canceled", None, false),
        NextStep::Retry(at) => ("pending", Some(at), false),
        NextStep::Requeue(at) => ("pending", Some(at), true),
    };
    let entry = json!({"callId": call_id, "result": result.as_str(), "at": now});
    sqlx::query!(
        "update campaign_attempts
         set state = $2, last_result = $3,
             next_attempt_at = coalesce($4, next_attempt_at),
             attempts = attempts - (case when $5 then 1 else 0 end),
             lease_owner = null, lease_expires_at = null, callback_at = null,
             result_history = result_history || $6::jsonb
         where id = $1",
        row.id,
        state,
        result.as_str(),
        next_at,
        uncount,
        entry
    )
    .execute(&mut **tx)
    .await?;
    if next_at.is_none() {
        // No longer pending: the campaign may have nothing left. Settlements of one
        // campaign take turns here, so of two last attempts settled at once, the second
        // sees the first committed (each statement reads what committed before it began).
        // (Not `query!`: the lock function returns `void`, which the macro cannot type.)
        sqlx::query(
            "select pg_advisory_xact_lock(hashtextextended('campaign-complete:' || $1::text, 0))",
        )
        .bind(row.campaign_id)
        .execute(&mut **tx)
        .await?;
        complete_if_done(&mut **tx, row.campaign_id, now).await?;
    }
    Ok(())
}

/// A running campaign with nothing left to dial or finish is completed.
pub(super) async fn complete_if_done<'e>(
    db: impl sqlx::PgExecutor<'e>,
    campaign: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update campaigns set status = 'completed', finished_at = $2
         where id = $1 and status = 'running'
           and not exists (select 1 from campaign_attempts
                           where campaign_id = $1
                             and state in ('pending', 'leased', 'dialing', 'in_call'))",
        campaign,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Marks a call failed with a reason (the provider refused it).
pub(super) async fn fail_call(
    db: &PgPool,
    call_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update calls set status = 'failed', end_reason = $2, ended_at = coalesce(ended_at, $3),
                          heard_at = greatest(heard_at, $3)
         where id = $1 and call_status_rank(status) < 4",
        call_id,
        reason,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Stores the ids the provider gave placed calls, (call id, provider id) pairs, in one
/// statement (a callback may have stored one first).
pub(super) async fn store_provider_ids(db: &PgPool, placed: &[(Uuid, String)]) -> sqlx::Result<()> {
    if placed.is_empty() {
        return Ok(());
    }
    let (ids, sids): (Vec<Uuid>, Vec<String>) = placed.iter().cloned().unzip();
    sqlx::query!(
        "update calls c set provider_call_id = u.sid
         from unnest($1::uuid[], $2::text[]) as u(id, sid)
         where c.id = u.id and c.provider_call_id is null",
        &ids,
        &sids
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A call that was never placed: canceled with `reason`, and its attempt back in the
/// queue at `at`, uncounted; both in one transaction.
pub(super) async fn give_back(
    db: &PgPool,
    call_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query!(
        "update calls set status = 'canceled', end_reason = $2, ended_at = coalesce(ended_at, $3),
                          heard_at = greatest(heard_at, $3)
         where id = $1 and call_status_rank(status) < 4",
        call_id,
        reason,
        now
    )
    .execute(&mut *tx)
    .await?;
    requeue_uncounted(&mut *tx, call_id, at).await?;
    tx.commit().await
}

/// Puts the attempt of a never-placed call back in the queue without counting it.
pub(super) async fn requeue_uncounted<'e>(
    db: impl sqlx::PgExecutor<'e>,
    call_id: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update campaign_attempts
         set state = 'pending', attempts = greatest(attempts - 1, 0), next_attempt_at = $2,
             lease_owner = null, lease_expires_at = null
         where last_call_id = $1 and state = 'dialing'",
        call_id,
        at
    )
    .execute(db)
    .await?;
    Ok(())
}
