//! A wave: the dials of one campaign whose rate-limit slots fall within [`WAVE`] of each
//! other. A wave's attempts and call rows are committed in one transaction just before
//! its first slot (the exactly-once rule: committed `dialing` before the provider is
//! asked), then each call is placed at its own slot, and the provider ids of the placed
//! calls are stored in one statement.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value};
use shared::PhoneNumber;
use uuid::Uuid;

use super::queue::{self, LeasedAttempt, RunningCampaign};
use super::{outcome, Inner};
use crate::dialer::{DialError, DialRequest, Dialer, Placed};

/// How far apart a wave's first and last slots may be. Shorter waves commit more often;
/// longer ones hold attempts `dialing` longer before their call is placed, and a pause
/// takes up to this long to stop the dials already committed.
pub(super) const WAVE: Duration = Duration::milliseconds(100);

/// The trunk and assistant facts a dial needs.
pub(super) struct DialContext {
    pub numbers: Vec<String>,
    pub calls_per_second: f64,
    pub account_sid: Option<String>,
    pub auth_token_enc: Option<Vec<u8>>,
    pub livekit_trunk_id: Option<String>,
    pub assistant_version: i32,
    pub max_duration_sec: i32,
    /// The campaign has a customer pre-dial check to ask before each dial.
    pub pre_dial: bool,
}

/// One dial of a wave: the attempt, its number and its slot.
pub(super) struct Planned<'a> {
    pub attempt: &'a LeasedAttempt,
    pub phone: PhoneNumber,
    pub slot: DateTime<Utc>,
}

/// Splits dials (earliest slot first) into waves of at most [`WAVE`] each.
pub(super) fn into_waves(dials: Vec<Planned<'_>>) -> Vec<Vec<Planned<'_>>> {
    let mut waves: Vec<Vec<Planned>> = Vec::new();
    for dial in dials {
        match waves.last_mut() {
            Some(wave) if dial.slot < wave[0].slot + WAVE => wave.push(dial),
            _ => waves.push(vec![dial]),
        }
    }
    waves
}

/// Turns slots (times on the engine's clock) into moments to wake up at: one reading of
/// the engine's clock against the runtime's, so a clock that a test holds still (or sets
/// years away) paces dials as the real one does.
#[derive(Clone, Copy)]
pub(super) struct Pace {
    instant: tokio::time::Instant,
    at: DateTime<Utc>,
}

impl Pace {
    pub(super) fn now(engine: &Inner) -> Self {
        Self {
            instant: tokio::time::Instant::now(),
            at: engine.clock.now(),
        }
    }

    async fn sleep_until(self, slot: DateTime<Utc>) {
        if let Ok(wait) = (slot - self.at).to_std() {
            tokio::time::sleep_until(self.instant + wait).await;
        }
    }
}

/// Commits and places one wave; the number of calls handed to the dialer.
pub(super) async fn run(
    engine: &Arc<Inner>,
    campaign: &RunningCampaign,
    context: &DialContext,
    wave: Vec<Planned<'_>>,
    now: DateTime<Utc>,
    pace: Pace,
) -> anyhow::Result<usize> {
    let Some(first) = wave.first() else {
        return Ok(0);
    };
    pace.sleep_until(first.slot).await;
    let committed = commit(engine, campaign, context, &wave, now).await?;
    let mut dials = FuturesUnordered::new();
    for (i, call_id) in &committed {
        dials.push(place_at_slot(
            engine, campaign, context, &wave[*i], *call_id, now, pace,
        ));
    }
    let mut placed = Vec::new();
    while let Some(result) = dials.next().await {
        if let Some(ids) = result? {
            placed.push(ids);
        }
    }
    outcome::store_provider_ids(&engine.db, &placed).await?;
    Ok(committed.len())
}

/// In one transaction: the campaign is still running, the wave's attempts are still
/// leased by this engine, their call rows exist and they are `dialing`, with one `dialed`
/// decision each. Returns (index in the wave, call id) of the attempts committed.
async fn commit(
    engine: &Inner,
    campaign: &RunningCampaign,
    context: &DialContext,
    wave: &[Planned<'_>],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<(usize, Uuid)>> {
    let owner = engine.owner.as_str();
    let mut tx = engine.db.begin().await?;
    let status = sqlx::query_scalar!(
        "select status from campaigns where id = $1 for share",
        campaign.id
    )
    .fetch_one(&mut *tx)
    .await?;
    if status != "running" {
        // Paused or in error: the attempts wait for a resume. Stopped: they are canceled.
        for dial in wave {
            if status != "stopped" {
                queue::release(&mut *tx, dial.attempt.id, owner, now, None).await?;
                // Deferred until a resume: one audit line, as for every deferral.
                queue::record_decision(
                    &mut *tx,
                    campaign,
                    dial.attempt.id,
                    now,
                    "deferred_paused",
                    Some(&status),
                )
                .await?;
            } else {
                queue::close_leased(
                    &mut *tx,
                    dial.attempt.id,
                    owner,
                    "canceled",
                    Some("campaign_stopped"),
                )
                .await?;
            }
        }
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = wave.iter().map(|d| d.attempt.id).collect();
    // Locked, so the reaper cannot take a lease back between this check and the update.
    let still_leased = sqlx::query_scalar!(
        "select id from campaign_attempts
         where id = any($1) and lease_owner = $2 and state = 'leased'
         for update",
        &ids,
        owner
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut committed = Vec::with_capacity(wave.len());
    let mut rows = WaveRows::default();
    for (i, dial) in wave.iter().enumerate() {
        // A lease lost (reaped) belongs to someone else now: leave it alone.
        if !still_leased.contains(&dial.attempt.id) {
            continue;
        }
        let call_id = Uuid::now_v7();
        committed.push((i, call_id));
        rows.push(engine, context, campaign, dial, call_id);
    }
    if committed.is_empty() {
        tx.rollback().await?;
        return Ok(committed);
    }
    sqlx::query!(
        "insert into calls (id, org_id, campaign_id, contact_id, attempt_id, assistant_id,
                            assistant_version, trunk_id, mode, to_phone, from_phone, status,
                            variables, created_at, heard_at)
         select u.id, $1, $2, u.contact_id, u.attempt_id, $3, $4, $5, $6, u.to_phone,
                u.from_phone, 'queued', u.variables, $7, $7
         from unnest($8::uuid[], $9::uuid[], $10::uuid[], $11::text[], $12::text[], $13::jsonb[])
              as u(id, contact_id, attempt_id, to_phone, from_phone, variables)",
        campaign.org_id,
        campaign.id,
        campaign.assistant_id,
        context.assistant_version,
        campaign.trunk_id,
        campaign.mode,
        now,
        &rows.call_ids,
        &rows.contact_ids,
        &rows.attempt_ids,
        &rows.to_phones,
        &rows.from_phones as &[Option<String>],
        &rows.variables
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update campaign_attempts a
         set state = 'dialing', attempts = a.attempts + 1, last_call_id = u.call_id,
             lease_expires_at = null, skip_reason = null
         from unnest($1::uuid[], $2::uuid[]) as u(attempt_id, call_id)
         where a.id = u.attempt_id",
        &rows.attempt_ids,
        &rows.call_ids
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into attempt_decisions (attempt_id, campaign_id, org_id, decided_at, decision, detail)
         select u.attempt_id, $3, $4, $5, 'dialed', u.detail
         from unnest($1::uuid[], $2::text[]) as u(attempt_id, detail)",
        &rows.attempt_ids,
        &rows.details,
        campaign.id,
        campaign.org_id,
        now
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(committed)
}

/// The columns of a wave's call rows, as arrays for `unnest`.
#[derive(Default)]
struct WaveRows {
    call_ids: Vec<Uuid>,
    contact_ids: Vec<Uuid>,
    attempt_ids: Vec<Uuid>,
    to_phones: Vec<String>,
    from_phones: Vec<Option<String>>,
    variables: Vec<Value>,
    details: Vec<String>,
}

impl WaveRows {
    fn push(
        &mut self,
        engine: &Inner,
        context: &DialContext,
        campaign: &RunningCampaign,
        dial: &Planned<'_>,
        call_id: Uuid,
    ) {
        self.call_ids.push(call_id);
        self.contact_ids.push(dial.attempt.contact_id);
        self.attempt_ids.push(dial.attempt.id);
        self.to_phones.push(dial.phone.as_str().to_string());
        self.from_phones.push(caller_id(context, dial.attempt));
        self.variables
            .push(merged_variables(&campaign.variables, dial.attempt));
        self.details
            .push(format!("call {call_id} by {}", engine.owner));
    }
}

/// The trunk number to call from. Spread over the trunk's numbers by contact, so one
/// number is not worn out and a contact always sees the same caller id.
fn caller_id(context: &DialContext, attempt: &LeasedAttempt) -> Option<String> {
    let n = context.numbers.len();
    (n > 0).then(|| context.numbers[(attempt.contact_id.as_u128() % n as u128) as usize].clone())
}

/// Contact variables over campaign variables, plus the contact's name and phone.
fn merged_variables(campaign: &Value, attempt: &LeasedAttempt) -> Value {
    let mut merged = Map::new();
    for source in [campaign, &attempt.contact_variables] {
        if let Some(map) = source.as_object() {
            merged.extend(map.clone());
        }
    }
    if let Some(name) = &attempt.name {
        merged.insert("name".into(), Value::String(name.clone()));
    }
    merged.insert("phone".into(), Value::String(attempt.phone.clone()));
    Value::Object(merged)
}

/// Waits for the dial's slot, so calls leave evenly spaced rather than in a burst, then
/// places it.
async fn place_at_slot(
    engine: &Arc<Inner>,
    campaign: &RunningCampaign,
    context: &DialContext,
    dial: &Planned<'_>,
    call_id: Uuid,
    now: DateTime<Utc>,
    pace: Pace,
) -> anyhow::Result<Option<(Uuid, String)>> {
    pace.sleep_until(dial.slot).await;
    place(engine, campaign, context, dial, call_id, now).await
}

/// Asks the provider to place one committed call. Returns (call id, provider id) of a
/// call placed and not yet recorded, for the wave to store with the others; every other
/// result is recorded here.
async fn place(
    engine: &Arc<Inner>,
    campaign: &RunningCampaign,
    context: &DialContext,
    dial: &Planned<'_>,
    call_id: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<(Uuid, String)>> {
    let db = &engine.db;
    let dialer = engine.dialers.get(campaign.mode.as_str()).cloned();
    let account = |dialer: &Arc<dyn Dialer>| {
        engine.account_of(
            dialer.as_ref(),
            context.account_sid.as_deref(),
            context.auth_token_enc.as_deref(),
        )
    };
    let Some((dialer, account)) = dialer.and_then(|d| account(&d).map(|a| (d, a))) else {
        let reason = format!("no {} account configured for this trunk", campaign.mode);
        outcome::give_back(db, call_id, "not_configured", now, now).await?;
        queue::fail_campaign(db, campaign.id, &reason).await?;
        return Ok(None);
    };
    let request = DialRequest {
        call_id,
        to: dial.phone.clone(),
        from: caller_id(context, dial.attempt).unwrap_or_default(),
        token: engine.call_token(call_id, campaign.org_id, now, context.max_duration_sec),
        account,
        amd_timeout_sec: campaign
            .amd_enabled
            .then_some(campaign.amd_timeout_sec as u32),
        ring_timeout_sec: engine.settings.ring_timeout_sec,
        time_limit_sec: context.max_duration_sec as u32,
        livekit_trunk_id: context.livekit_trunk_id.clone(),
    };
    let placing = Placing {
        campaign_id: campaign.id,
        attempts: dial.attempt.attempts,
        call_id,
        answered_on_success: dialer.waits_for_answer(),
    };
    if dialer.waits_for_answer() {
        // The dial lasts as long as the ringing: it runs beside the tick. The attempt is
        // `dialing` already, so concurrency counts it and a crash is reconciled.
        let engine = Arc::clone(engine);
        tokio::spawn(async move {
            let result = dialer.dial(&request).await;
            let now = engine.clock.now();
            if let Err(err) = placing.settle(&engine, result, now).await {
                tracing::error!(call_id = %placing.call_id, error = ?err, "recording a dial's result");
            }
        });
        return Ok(None);
    }
    match dialer.dial(&request).await {
        Ok(placed) => Ok(Some((call_id, placed.provider_call_id))),
        Err(err) => {
            placing.settle(engine, Err(err), now).await?;
            Ok(None)
        }
    }
}

/// A dial in flight: what its result is recorded against.
struct Placing {
    campaign_id: Uuid,
    /// Attempts made so far (for the back-off of a dial that was never sent).
    attempts: i32,
    call_id: Uuid,
    /// The dialer returns success only once the callee answered.
    answered_on_success: bool,
}

impl Placing {
    async fn settle(
        &self,
        engine: &Inner,
        result: Result<Placed, DialError>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let db = &engine.db;
        let call_id = self.call_id;
        let err = match result {
            Ok(placed) => {
                if self.answered_on_success {
                    let update = outcome::answered(&placed.provider_call_id, now);
                    outcome::apply_call_status(db, call_id, &update).await?;
                }
                outcome::store_provider_ids(db, &[(call_id, placed.provider_call_id)]).await?;
                return Ok(());
            }
            Err(err) => err,
        };
        // Providers' messages may quote the number ("The 'To' number +1... is not valid").
        let error = shared::phone::mask_numbers_in(&err.to_string());
        tracing::warn!(call_id = %call_id, %error, "dial failed");
        match err {
            DialError::InvalidNumber(_) | DialError::Refused(_) => {
                outcome::fail_call(db, call_id, &err.to_string(), now).await?;
                outcome::finish_attempt_for_call(db, call_id, err.attempt_result(), now).await?;
            }
            DialError::Ended { result, detail } => {
                outcome::end_unanswered(db, call_id, result, &detail, now).await?;
            }
            DialError::RateLimited | DialError::NotSent(_) => {
                // Nothing was placed: give the attempt back without counting it.
                let backoff = Duration::seconds(5 * i64::from(self.attempts + 1));
                outcome::give_back(db, call_id, "not_sent", now, now + backoff).await?;
                // A deferral like any other: the attempts view says why it waits.
                queue::record_call_decision(
                    db,
                    call_id,
                    now,
                    "deferred_provider",
                    &err.to_string(),
                )
                .await?;
            }
            DialError::BadCredentials(message) => {
                outcome::give_back(db, call_id, "bad_credentials", now, now).await?;
                let reason = format!("the provider refused the credentials: {message}");
                queue::fail_campaign(db, self.campaign_id, &reason).await?;
            }
            DialError::Unknown(_) => {
                // The call may exist: leave it `dialing` for reconciliation, never redial.
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_hold_the_slots_of_one_wave_length() {
        let attempt = LeasedAttempt {
            id: Uuid::nil(),
            contact_id: Uuid::nil(),
            attempts: 0,
            phone: "+13125550100".into(),
            timezone: None,
            name: None,
            contact_variables: Value::Null,
            consent_kind: None,
        };
        let phone = PhoneNumber::parse("+13125550100", None).unwrap();
        let start = Utc::now();
        let dials = [0, 40, 99, 100, 150, 400]
            .into_iter()
            .map(|ms| Planned {
                attempt: &attempt,
                phone: phone.clone(),
                slot: start + Duration::milliseconds(ms),
            })
            .collect();
        let sizes: Vec<usize> = into_waves(dials).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![3, 2, 1]);
    }
}
