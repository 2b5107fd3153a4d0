//! The dial queue (`campaign_attempts`) as the life cycle moves it: one attempt per contact
//! on start and resume, pending attempts canceled on stop; and the status move itself.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::Tx;
use crate::domain::campaign::{AttemptState, CampaignAction, CampaignStatus};

/// Moves the campaign to `action`'s target status if its current status allows the action.
/// The condition is in the `update` itself, so of two concurrent starts only the first
/// wins: the second waits for the row lock, then finds the status already moved.
/// Returns the campaign's contact list, or `None` when nothing moved. `now` is the
/// engine's clock, so the stamps agree with the times the engine compares them with.
pub async fn transition(
    tx: &mut Tx<'_>,
    org_id: Uuid,
    id: Uuid,
    action: CampaignAction,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Uuid>> {
    let allowed: Vec<String> = action
        .allowed_from()
        .iter()
        .map(|s| s.as_str().to_string())
        .collect();
    let target = action.target();
    sqlx::query_scalar!(
        "update campaigns
         set status = $3, status_reason = null,
             started_at = case when $4 then coalesce(started_at, $8) else started_at end,
             finished_at = case when $5 then $8 when $6 then null else finished_at end
         where org_id = $1 and id = $2 and status = any($7)
         returning contact_list_id",
        org_id,
        id,
        target.as_str(),
        action == CampaignAction::Start,
        target == CampaignStatus::Stopped,
        target == CampaignStatus::Running,
        &allowed,
        now
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Queues one pending attempt per contact of the list that has none yet, due at `now`
/// (the engine's clock: the database's own now() would be a second clock that the
/// engine's due-time comparisons do not share); the number added.
pub async fn enqueue_contacts(
    tx: &mut Tx<'_>,
    org_id: Uuid,
    campaign_id: Uuid,
    list_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "insert into campaign_attempts (id, org_id, campaign_id, contact_id, state, next_attempt_at)
         select gen_random_uuid(), org_id, $2, id, $4, $5
         from contacts where org_id = $1 and list_id = $3
         on conflict (campaign_id, contact_id) do nothing",
        org_id,
        campaign_id,
        list_id,
        AttemptState::Pending.as_str(),
        now
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Cancels the attempts still waiting to be dialed; ones already with a worker finish.
pub async fn cancel_pending(tx: &mut Tx<'_>, org_id: Uuid, campaign_id: Uuid) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "update campaign_attempts set state = $3, lease_owner = null, lease_expires_at = null
         where org_id = $1 and campaign_id = $2 and state = $4",
        org_id,
        campaign_id,
        AttemptState::Canceled.as_str(),
        AttemptState::Pending.as_str()
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// How many attempts are in each state.
pub async fn progress(
    db: &PgPool,
    org_id: Uuid,
    campaign_id: Uuid,
) -> sqlx::Result<Vec<(AttemptState, i64)>> {
    let rows = sqlx::query!(
        r#"select state, count(*) as "n!" from campaign_attempts
           where org_id = $1 and campaign_id = $2 group by state"#,
        org_id,
        campaign_id
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|row| {
            let state = row
                .state
                .parse::<AttemptState>()
                .map_err(|err| sqlx::Error::Decode(Box::new(err)))?;
            Ok((state, row.n))
        })
        .collect()
}
