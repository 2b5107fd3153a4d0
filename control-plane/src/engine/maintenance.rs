//! Periodic upkeep: the reaper (leases that never reached `dialing`), reconciliation of
//! dials whose outcome we never heard, calls the worker never ended, and campaign
//! completion.

use chrono::{DateTime, Duration, Utc};
use shared::CallStatus;
use uuid::Uuid;

use super::outcome::{self, StatusUpdate};
use super::Inner;
use crate::dialer::Unrecorded;

pub(super) async fn run(engine: &Inner) -> anyhow::Result<()> {
    let now = engine.clock.now();
    reap_leases(engine, now).await?;
    reconcile_dials(engine, now).await?;
    settle_orphans(engine, now).await?;
    close_worker_lost(engine, now).await?;
    complete_campaigns(engine, now).await?;
    Ok(())
}

/// Leases whose owner died before committing the dial: back to the queue. Attempts in
/// `dialing` are never touched here: their call may exist.
async fn reap_leases(engine: &Inner, now: DateTime<Utc>) -> anyhow::Result<()> {
    let reaped = sqlx::query!(
        "update campaign_attempts
         set state = 'pending', lease_owner = null, lease_expires_at = null
         where state = 'leased' and lease_expires_at < $1",
        now
    )
    .execute(&engine.db)
    .await?;
    if reaped.rows_affected() > 0 {
        tracing::warn!(count = reaped.rows_affected(), "re-queued expired leases");
    }
    Ok(())
}

/// Dials we have not heard about: ask the provider. A call the provider never created
/// goes back to the queue uncounted; one it did create takes the provider's status.
async fn reconcile_dials(engine: &Inner, now: DateTime<Utc>) -> anyhow::Result<()> {
    let stale = sqlx::query!(
        r#"select c.id, c.org_id, c.mode, c.to_phone, c.from_phone, c.provider_call_id, c.created_at,
                  t.account_sid, t.auth_token_enc
           from calls c
           left join trunks t on t.id = c.trunk_id
           where c.status in ('queued', 'initiated', 'ringing', 'in_progress')
             and c.heard_at < $1::timestamptz - make_interval(secs => $2::bigint)
           order by c.heard_at
           limit 100"#,
        now,
        engine.settings.reconcile_after_sec
    )
    .fetch_all(&engine.db)
    .await?;
    // A call is only asked about after a quiet spell with no callback: one request per
    // live call per `reconcile_after_sec`, cheap next to the call itself, and enough to
    // recover callbacks lost while this replica (or every replica) was down.
    for call in stale {
        let Some(dialer) = engine.dialers.get(call.mode.as_str()) else {
            continue;
        };
        let Some(account) = engine.account_of(
            dialer.as_ref(),
            call.account_sid.as_deref(),
            call.auth_token_enc.as_deref(),
        ) else {
            continue;
        };
        // Whatever the answer, this call is not asked about again for another quiet spell.
        sqlx::query!(
            "update calls set heard_at = greatest(heard_at, $2) where id = $1",
            call.id,
            now
        )
        .execute(&engine.db)
        .await?;
        let found = match &call.provider_call_id {
            Some(sid) => dialer.fetch(&account, sid).await,
            None => {
                let known: Vec<String> = sqlx::query_scalar!(
                    r#"select provider_call_id as "sid!" from calls
                       where to_phone = $1 and provider_call_id is not null"#,
                    call.to_phone
                )
                .fetch_all(&engine.db)
                .await?;
                // Ten minutes of slack for clocks that disagree.
                let since = call.created_at - Duration::minutes(10);
                let from = call.from_phone.clone().unwrap_or_default();
                let unrecorded = Unrecorded {
                    call_id: call.id,
                    to: &call.to_phone,
                    from: &from,
                    known: &known,
                    since,
                };
                dialer.find_unrecorded(&account, &unrecorded).await
            }
        };
        match found {
            Ok(Some(provider)) => {
                let update = StatusUpdate {
                    status: provider.status,
                    at: now,
                    provider_call_id: Some(provider.provider_call_id),
                    duration_sec: provider.duration_sec,
                    answered_by: None,
                    sequence: None,
                };
                outcome::apply_call_status(&engine.db, call.id, &update).await?;
            }
            Ok(None) if call.provider_call_id.is_none() => {
                tracing::warn!(call_id = %call.id, "dial never reached the provider; re-queued");
                outcome::give_back(&engine.db, call.id, "not_sent", now, now).await?;
            }
            Ok(None) => {
                let update = StatusUpdate {
                    status: CallStatus::Failed,
                    at: now,
                    provider_call_id: None,
                    duration_sec: None,
                    answered_by: None,
                    sequence: None,
                };
                outcome::apply_call_status(&engine.db, call.id, &update).await?;
            }
            Err(err) => {
                tracing::warn!(call_id = %call.id, error = %err, "reconciliation failed; will retry")
            }
        }
    }
    Ok(())
}

/// Attempts still `dialing` or `in_call` behind a call that has ended. Settling is atomic
/// with the call's last status change, so this is a safety net (for rows written by an
/// older version, or a future code path that forgets), not the normal way out.
async fn settle_orphans(engine: &Inner, now: DateTime<Utc>) -> anyhow::Result<()> {
    let orphans = sqlx::query!(
        "select c.id, c.status, c.answered_by, c.end_reason
         from campaign_attempts a join calls c on c.id = a.last_call_id
         where a.state in ('dialing', 'in_call') and call_status_rank(c.status) = 4
           and c.heard_at < $1::timestamptz - interval '5 seconds'
         limit 100",
        now
    )
    .fetch_all(&engine.db)
    .await?;
    for call in orphans {
        tracing::warn!(call_id = %call.id, "settling an attempt left behind its ended call");
        let status: CallStatus = call.status.parse()?;
        if matches!(
            call.end_reason.as_deref(),
            Some("not_sent" | "bad_credentials" | "not_configured" | "no_worker")
        ) {
            outcome::give_back(&engine.db, call.id, "not_sent", now, now).await?;
        } else {
            let result = outcome::result_of(status, call.answered_by.as_deref());
            outcome::finish_attempt_for_call(&engine.db, call.id, result, now).await?;
        }
    }
    Ok(())
}

/// A Media Streams call the provider says was answered and has ended, but that no worker
/// ever reported ending, lost its worker: it is failed with reason `worker_lost` rather
/// than left looking like a finished conversation.
async fn close_worker_lost(engine: &Inner, now: DateTime<Utc>) -> anyhow::Result<()> {
    let grace = now - Duration::seconds(engine.settings.worker_grace_sec);
    let lost: Vec<Uuid> = sqlx::query_scalar!(
        "update calls set status = 'failed', end_reason = 'worker_lost'
         where mode = 'twilio_stream' and status = 'completed' and answered_at is not null
           and end_reason is null and outcome is null and ended_at < $1
         returning id",
        grace
    )
    .fetch_all(&engine.db)
    .await?;
    for id in &lost {
        tracing::warn!(call_id = %id, "call ended without its worker: worker_lost");
    }
    Ok(())
}

async fn complete_campaigns(engine: &Inner, now: DateTime<Utc>) -> anyhow::Result<()> {
    let running: Vec<Uuid> =
        sqlx::query_scalar!("select id from campaigns where status = 'running'")
            .fetch_all(&engine.db)
            .await?;
    for campaign in running {
        outcome::complete_if_done(&engine.db, campaign, now).await?;
    }
    Ok(())
}
