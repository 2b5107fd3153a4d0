//! One engine tick: for each running campaign, lease what may be dialed now and dial it,
//! checking every rule at dial time.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value};
use shared::PhoneNumber;
use uuid::Uuid;

use super::queue::{self, LeasedAttempt, RunningCampaign};
use super::window::CallingWindow;
use super::{outcome, rate, zones, Inner};
use crate::compliance::{self, gate};
use crate::dialer::{DialError, DialRequest, Dialer};
use crate::integrations::pre_dial;

/// How many dials of one campaign are in flight at once within a tick.
const DIALS_IN_PARALLEL: usize = 16;

/// How many campaigns are dispatched at once within a tick.
const CAMPAIGNS_IN_PARALLEL: usize = 4;

/// Dials what every running campaign may dial now; returns the number of dials. Campaigns
/// go side by side: one waiting on its rate-limit slots must not hold up the others.
pub(super) async fn tick(engine: &Arc<Inner>) -> anyhow::Result<usize> {
    let campaigns = queue::running_campaigns(&engine.db).await?;
    let mut waiting = campaigns.iter();
    let mut in_flight = FuturesUnordered::new();
    let mut dialed = 0;
    loop {
        while in_flight.len() < CAMPAIGNS_IN_PARALLEL {
            let Some(campaign) = waiting.next() else {
                break;
            };
            in_flight.push(async move { (campaign, dispatch_campaign(engine, campaign).await) });
        }
        match in_flight.next().await {
            Some((_, Ok(n))) => dialed += n,
            Some((campaign, Err(err))) => {
                tracing::error!(campaign_id = %campaign.id, error = ?err, "dispatch failed")
            }
            None => break,
        }
    }
    Ok(dialed)
}

/// The trunk and assistant facts a dial needs.
struct DialContext {
    numbers: Vec<String>,
    calls_per_second: f64,
    account_sid: Option<String>,
    auth_token_enc: Option<Vec<u8>>,
    livekit_trunk_id: Option<String>,
    assistant_version: i32,
    max_duration_sec: i32,
}

#[tracing::instrument(skip_all, fields(campaign_id = %campaign.id, org_id = %campaign.org_id))]
async fn dispatch_campaign(
    engine: &Arc<Inner>,
    campaign: &RunningCampaign,
) -> anyhow::Result<usize> {
    let now = engine.clock.now();
    let zone: Tz = campaign.timezone.parse().unwrap_or(chrono_tz::UTC);
    let mut room = i64::from(campaign.max_concurrent_calls)
        - queue::in_flight(&engine.db, campaign.id).await?;
    if let Some(cap) = campaign.daily_cap {
        let today_start = start_of_day(now, zone);
        let today = queue::calls_since(&engine.db, campaign.id, today_start).await?;
        if today >= i64::from(cap) {
            // Everything due waits for tomorrow, and says so in the attempts view.
            let tomorrow = start_of_day(today_start + Duration::hours(36), zone);
            queue::defer_due(&engine.db, campaign, now, tomorrow, "cap").await?;
            return Ok(0);
        }
        room = room.min(i64::from(cap) - today);
    }
    if let Some(monthly) = campaign.budget_monthly_cents {
        let spent = queue::spent_since(&engine.db, campaign.id, start_of_month(now, zone)).await?;
        if spent >= f64::from(monthly) {
            queue::pause_campaign(&engine.db, campaign.id, "monthly budget reached").await?;
            queue::defer_due(&engine.db, campaign, now, now, "budget").await?;
            tracing::warn!("monthly budget reached; campaign paused");
            return Ok(0);
        }
    }
    let abandonment = compliance::abandonment::measure(
        &engine.db,
        campaign.id,
        campaign.abandonment_threshold_pct,
        now,
    )
    .await?;
    if abandonment.over_threshold() {
        queue::pause_campaign(&engine.db, campaign.id, &abandonment.reason()).await?;
        queue::defer_due(&engine.db, campaign, now, now, "abandonment").await?;
        tracing::warn!(
            rate_pct = abandonment.rate_pct,
            "abandonment rate over the threshold; campaign paused"
        );
        return Ok(0);
    }
    if campaign.mode == "twilio_stream" {
        let free = queue::free_stream_slots(&engine.db, now, engine.heartbeat_ttl_sec).await?;
        // Inbound callers are never turned away for a dial: campaigns leave a reserve of
        // slots free while some number answers with an assistant.
        let reserve = if crate::db::numbers::any_answering(&engine.db).await? {
            engine.settings.inbound_reserve_slots.max(0)
        } else {
            0
        };
        room = room.min(free - reserve);
    }
    if room <= 0 {
        return Ok(0);
    }
    let Some(context) = dial_context(engine, campaign).await? else {
        return Ok(0);
    };
    // Lease no more than the rate limits can start within their horizon: leasing more
    // would only mean handing the rest straight back.
    let mut can_start = rate::slots_per_horizon(rate::per_second(context.calls_per_second));
    if let Some(cpm) = campaign.calls_per_minute {
        can_start = can_start.min(rate::slots_per_horizon(rate::per_minute(cpm)));
    }
    let lease = Duration::seconds(engine.settings.lease_sec);
    let leased = queue::lease(
        &engine.db,
        campaign.id,
        &engine.owner,
        now,
        lease,
        room.min(engine.settings.batch).min(can_start),
    )
    .await?;
    let window = CallingWindow::new(
        &campaign.calling_days,
        campaign.start_hour as u32,
        campaign.end_hour as u32,
        campaign.allow_outside_legal_hours,
    );
    // Dials of one tick go out side by side: each waits on Twilio's answer, and the
    // shared state they touch (rate limits, attempt rows) is updated atomically in SQL.
    let mut waiting = leased.iter();
    let mut in_flight = FuturesUnordered::new();
    let mut dialed = 0;
    loop {
        while in_flight.len() < DIALS_IN_PARALLEL {
            let Some(attempt) = waiting.next() else { break };
            in_flight.push(decide_and_dial(
                engine, campaign, &context, &window, zone, attempt, now,
            ));
        }
        match in_flight.next().await {
            Some(result) => dialed += usize::from(result?),
            None => break,
        }
    }
    Ok(dialed)
}

async fn dial_context(
    engine: &Inner,
    campaign: &RunningCampaign,
) -> anyhow::Result<Option<DialContext>> {
    let row = sqlx::query!(
        r#"select t.numbers, t.calls_per_second, t.account_sid, t.auth_token_enc,
                  t.livekit_trunk_id, a.current_version, (a.definition->>'maxDurationSec')::int as max_duration_sec
           from trunks t, assistants a
           where t.id = $1 and a.id = $2 and t.org_id = $3 and a.org_id = $3"#,
        campaign.trunk_id,
        campaign.assistant_id,
        campaign.org_id
    )
    .fetch_optional(&engine.db)
    .await?;
    Ok(row.map(|r| DialContext {
        numbers: r.numbers,
        calls_per_second: r.calls_per_second,
        account_sid: r.account_sid,
        auth_token_enc: r.auth_token_enc,
        livekit_trunk_id: r.livekit_trunk_id,
        assistant_version: r.current_version,
        max_duration_sec: r.max_duration_sec.unwrap_or(600),
    }))
}

/// Applies the dial-time rules to one leased attempt; dials it if they all pass.
async fn decide_and_dial(
    engine: &Arc<Inner>,
    campaign: &RunningCampaign,
    context: &DialContext,
    window: &CallingWindow,
    zone: Tz,
    attempt: &LeasedAttempt,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let db = &engine.db;
    let owner = engine.owner.as_str();
    let decide = |decision: &'static str, detail: Option<String>| async move {
        queue::record_decision(db, campaign, attempt.id, now, decision, detail.as_deref()).await
    };
    if attempt.attempts >= campaign.max_attempts {
        queue::close_leased(db, attempt.id, owner, "exhausted", None).await?;
        decide("exhausted", None).await?;
        return Ok(false);
    }
    let Ok(phone) = PhoneNumber::parse(&attempt.phone, None) else {
        queue::close_leased(db, attempt.id, owner, "skipped", Some("invalid_number")).await?;
        decide("skipped_invalid_number", None).await?;
        return Ok(false);
    };
    if queue::is_dnc(db, campaign.org_id, phone.as_str()).await? {
        queue::close_leased(db, attempt.id, owner, "skipped", Some("dnc")).await?;
        decide("skipped_dnc", None).await?;
        return Ok(false);
    }
    let zones = zones::callee_zones(attempt.timezone.as_deref(), &phone, zone);
    if !window.is_open(now, &zones) {
        let names: Vec<&str> = zones.iter().map(|z| z.name()).collect();
        match window.next_open(now, &zones) {
            Some(at) => {
                queue::release(db, attempt.id, owner, at, Some("window")).await?;
                decide(
                    "deferred_window",
                    Some(format!("opens {at} in {}", names.join(", "))),
                )
                .await?;
            }
            None => {
                queue::close_leased(db, attempt.id, owner, "skipped", Some("window")).await?;
                decide(
                    "skipped_window",
                    Some(format!("never open in {}", names.join(", "))),
                )
                .await?;
            }
        }
        return Ok(false);
    }
    // Compliance (consent, state rules): refusals are decisions like the rules above.
    let facts = gate::DialFacts {
        campaign_id: campaign.id,
        telemarketing: campaign.telemarketing,
        consent_kind: attempt.consent_kind.as_deref(),
        contact_zone: attempt.timezone.as_deref(),
        outside_legal_hours: campaign.allow_outside_legal_hours,
        phone: &phone,
        now,
    };
    match gate::check_before_dial(db, facts).await? {
        gate::Verdict::Dial => {}
        gate::Verdict::Defer {
            until,
            reason,
            decision,
            detail,
        } => {
            queue::release(db, attempt.id, owner, until, Some(reason)).await?;
            decide(decision, Some(detail)).await?;
            return Ok(false);
        }
        gate::Verdict::Skip {
            reason,
            decision,
            detail,
        } => {
            queue::close_leased(db, attempt.id, owner, "skipped", Some(reason)).await?;
            decide(decision, Some(detail)).await?;
            return Ok(false);
        }
    }
    // The customer's pre-dial check (issue 16, integrations::pre_dial): after the rules
    // above, so a contact we would not call anyway costs the customer no request, and
    // before a rate-limit slot is taken. Its verdict is one of the attempt's decisions.
    let candidate = pre_dial::Candidate {
        org_id: campaign.org_id,
        campaign_id: campaign.id,
        attempt_id: attempt.id,
        contact_id: attempt.contact_id,
        phone: phone.as_str(),
        name: attempt.name.as_deref(),
        attempt: attempt.attempts + 1,
    };
    if let Some(verdict) = pre_dial::ask(
        db,
        &engine.secrets,
        &candidate,
        now,
        engine.settings.pre_dial_allow_private_targets,
    )
    .await?
    {
        if !verdict.eligible {
            queue::close_leased(db, attempt.id, owner, "skipped", Some("pre_dial")).await?;
        }
        decide(verdict.decision(), Some(verdict.detail.clone())).await?;
        if !verdict.eligible {
            return Ok(false);
        }
    }
    let mut slot = now;
    if let Some(cpm) = campaign.calls_per_minute {
        let key = format!("campaign:{}", campaign.id);
        // The time of the reservation, not of the tick: a slot counted from a stale
        // moment lets this dial leave late and the next one less than an interval after.
        match rate::reserve(db, &key, rate::per_minute(cpm), engine.clock.now()).await? {
            Ok(at) => slot = slot.max(at),
            Err(at) => {
                queue::release(db, attempt.id, owner, at, None).await?;
                // A deferral like any other: the attempts view says why it waits.
                decide(
                    "deferred_rate",
                    Some(format!("calls per minute; slot at {at}")),
                )
                .await?;
                return Ok(false);
            }
        }
    }
    let key = format!("trunk:{}", campaign.trunk_id);
    let at = engine.clock.now();
    match rate::reserve(db, &key, rate::per_second(context.calls_per_second), at).await? {
        Ok(at) => slot = slot.max(at),
        Err(at) => {
            queue::release(db, attempt.id, owner, at, None).await?;
            // A deferral like any other: the attempts view says why it waits.
            decide(
                "deferred_rate",
                Some(format!("trunk calls per second; slot at {at}")),
            )
            .await?;
            return Ok(false);
        }
    }
    // Start at the reserved slot, so calls leave evenly spaced rather than in a burst.
    if let Ok(wait) = (slot - engine.clock.now()).to_std() {
        tokio::time::sleep(wait).await;
    }
    let Some(call_id) = commit_dialing(engine, campaign, context, attempt, &phone, now).await?
    else {
        return Ok(false);
    };
    dial(engine, campaign, context, attempt, phone, call_id, now).await?;
    Ok(true)
}

/// In one transaction: the campaign is still running, the call row exists, the attempt
/// is `dialing`. Only then is the provider asked.
async fn commit_dialing(
    engine: &Inner,
    campaign: &RunningCampaign,
    context: &DialContext,
    attempt: &LeasedAttempt,
    phone: &PhoneNumber,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Uuid>> {
    let mut tx = engine.db.begin().await?;
    let status = sqlx::query_scalar!(
        "select status from campaigns where id = $1 for share",
        campaign.id
    )
    .fetch_one(&mut *tx)
    .await?;
    if status != "running" {
        tx.rollback().await?;
        let owner = engine.owner.as_str();
        // Paused or in error: the attempt waits for a resume. Stopped: it is canceled.
        if status != "stopped" {
            queue::release(&engine.db, attempt.id, owner, now, None).await?;
            // Deferred until a resume: one audit line, as for every deferral.
            queue::record_decision(
                &engine.db,
                campaign,
                attempt.id,
                now,
                "deferred_paused",
                Some(&status),
            )
            .await?;
        } else {
            queue::close_leased(
                &engine.db,
                attempt.id,
                owner,
                "canceled",
                Some("campaign_stopped"),
            )
            .await?;
        }
        return Ok(None);
    }
    let call_id = Uuid::now_v7();
    let from = caller_id(context, attempt);
    let variables = merged_variables(&campaign.variables, attempt);
    sqlx::query!(
        "insert into calls (id, org_id, campaign_id, contact_id, attempt_id, assistant_id,
                            assistant_version, trunk_id, mode, to_phone, from_phone, status,
                            variables, created_at, heard_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'queued', $12, $13, $13)",
        call_id,
        campaign.org_id,
        campaign.id,
        attempt.contact_id,
        attempt.id,
        campaign.assistant_id,
        context.assistant_version,
        campaign.trunk_id,
        campaign.mode,
        phone.as_str(),
        from,
        variables,
        now
    )
    .execute(&mut *tx)
    .await?;
    let moved = sqlx::query!(
        "update campaign_attempts
         set state = 'dialing', attempts = attempts + 1, last_call_id = $3,
             lease_expires_at = null, skip_reason = null
         where id = $1 and lease_owner = $2 and state = 'leased'",
        attempt.id,
        engine.owner,
        call_id
    )
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() != 1 {
        // The lease was lost (reaped): someone else owns this attempt now.
        tx.rollback().await?;
        return Ok(None);
    }
    let detail = format!("call {call_id} by {}", engine.owner);
    // Inside the transaction: a dial holding a connection never waits for a second one,
    // so parallel dials cannot starve the pool.
    queue::record_decision(&mut *tx, campaign, attempt.id, now, "dialed", Some(&detail)).await?;
    tx.commit().await?;
    Ok(Some(call_id))
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

async fn dial(
    engine: &Arc<Inner>,
    campaign: &RunningCampaign,
    context: &DialContext,
    attempt: &LeasedAttempt,
    phone: PhoneNumber,
    call_id: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
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
        return Ok(());
    };
    let request = DialRequest {
        call_id,
        to: phone,
        from: caller_id(context, attempt).unwrap_or_default(),
        token: engine.call_token(call_id, campaign.org_id, now, context.max_duration_sec),
        account,
        amd_timeout_sec: campaign
            .amd_enabled
            .then_some(campaign.amd_timeout_sec as u32),
        ring_timeout_sec: engine.settings.ring_timeout_sec,
        time_limit_sec: context.max_duration_sec as u32,
        livekit_trunk_id: context.livekit_trunk_id.clone(),
    };
    let placed = Placing {
        campaign_id: campaign.id,
        attempts: attempt.attempts,
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
            if let Err(err) = placed.settle(&engine, result, now).await {
                tracing::error!(call_id = %placed.call_id, error = ?err, "recording a dial's result");
            }
        });
        return Ok(());
    }
    let result = dialer.dial(&request).await;
    placed.settle(engine, result, now).await
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
        result: Result<crate::dialer::Placed, DialError>,
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
                outcome::store_provider_id(db, call_id, &placed.provider_call_id).await?;
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

fn start_of_day(now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local = now
        .with_timezone(&zone)
        .date_naive()
        .and_time(NaiveTime::MIN);
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now - Duration::days(1))
}

fn start_of_month(now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&zone).date_naive();
    let first = local.with_day(1).unwrap_or(local).and_time(NaiveTime::MIN);
    zone.from_local_datetime(&first)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now - Duration::days(31))
}
