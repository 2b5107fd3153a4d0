//! One engine tick: for each running campaign, lease what may be dialed now and dial it,
//! checking every rule at dial time.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use futures::stream::{FuturesOrdered, FuturesUnordered, StreamExt};
use shared::PhoneNumber;

use super::plan::{Plan, Rules};
use super::queue::{self, LeasedAttempt, RunningCampaign};
use super::wave::{self, DialContext, Pace, Planned};
use super::window::CallingWindow;
use super::{rate, Inner};
use crate::compliance;
use crate::integrations::pre_dial;

/// How many rule checks (compliance look-ups, customer pre-dial requests) of one campaign
/// run at once.
const PARALLEL_CHECKS: usize = 16;

/// How many campaigns are dispatched at once within a tick. A campaign's dispatch spends
/// most of its time asleep until its dials' slots, so many go side by side; the bound
/// keeps the database pool from being asked for more than it holds.
const CAMPAIGNS_IN_PARALLEL: usize = 64;

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
    if leased.is_empty() {
        return Ok(0);
    }
    let window = CallingWindow::new(
        &campaign.calling_days,
        campaign.start_hour as u32,
        campaign.end_hour as u32,
        campaign.allow_outside_legal_hours,
    );
    let plans = plan_batch(engine, campaign, &context, &window, zone, &leased, now).await?;
    let dials = record_and_claim(engine, campaign, &context, &leased, plans, now).await?;
    // Waves go out side by side, each sleeping until its own slots.
    let pace = Pace::now(engine);
    let waves = wave::into_waves(dials);
    let mut runs = FuturesUnordered::new();
    for w in waves {
        runs.push(wave::run(engine, campaign, &context, w, now, pace));
    }
    let mut dialed = 0;
    while let Some(result) = runs.next().await {
        dialed += result?;
    }
    Ok(dialed)
}

/// Applies the dial-time rules to a leased batch (one DNC query for all of it), then asks
/// the customer's pre-dial check, if the campaign has one, about those still to dial.
async fn plan_batch(
    engine: &Arc<Inner>,
    campaign: &RunningCampaign,
    context: &DialContext,
    window: &CallingWindow,
    zone: Tz,
    leased: &[LeasedAttempt],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<(Plan, Option<pre_dial::Verdict>)>> {
    let db = &engine.db;
    let phones: Vec<String> = leased
        .iter()
        .filter_map(|a| PhoneNumber::parse(&a.phone, None).ok())
        .map(|p| p.as_str().to_string())
        .collect();
    let dnc = queue::dnc_hits(db, campaign.org_id, &phones).await?;
    let rules = Rules {
        campaign,
        window,
        zone,
        dnc: &dnc,
        now,
    };
    let mut plans = Vec::with_capacity(leased.len());
    let mut checks = FuturesOrdered::new();
    for attempt in leased {
        if checks.len() >= PARALLEL_CHECKS {
            plans.extend(checks.next().await.transpose()?);
        }
        checks.push_back(rules.plan(db, attempt));
    }
    while let Some(plan) = checks.next().await {
        plans.push(plan?);
    }
    if !context.pre_dial {
        return Ok(plans.into_iter().map(|plan| (plan, None)).collect());
    }
    // The customer's pre-dial check (issue 16, integrations::pre_dial): after the rules
    // above, so a contact we would not call anyway costs the customer no request, and
    // before a rate-limit slot is taken. Its verdict is one of the attempt's decisions.
    let mut asked = Vec::with_capacity(leased.len());
    let mut asks = FuturesOrdered::new();
    for (attempt, plan) in leased.iter().zip(plans) {
        if asks.len() >= PARALLEL_CHECKS {
            asked.extend(asks.next().await.transpose()?);
        }
        asks.push_back(ask_pre_dial(engine, campaign, attempt, plan, now));
    }
    while let Some(result) = asks.next().await {
        asked.push(result?);
    }
    Ok(asked)
}

/// The customer's verdict on a dial the rules allow (none for other plans).
async fn ask_pre_dial(
    engine: &Arc<Inner>,
    campaign: &RunningCampaign,
    attempt: &LeasedAttempt,
    plan: Plan,
    now: DateTime<Utc>,
) -> anyhow::Result<(Plan, Option<pre_dial::Verdict>)> {
    let Plan::Dial { phone } = &plan else {
        return Ok((plan, None));
    };
    let candidate = pre_dial::Candidate {
        org_id: campaign.org_id,
        campaign_id: campaign.id,
        attempt_id: attempt.id,
        contact_id: attempt.contact_id,
        phone: phone.as_str(),
        name: attempt.name.as_deref(),
        attempt: attempt.attempts + 1,
    };
    let verdict = pre_dial::ask(
        &engine.db,
        &engine.secrets,
        &candidate,
        now,
        engine.settings.pre_dial_allow_private_targets,
    )
    .await?;
    Ok((plan, verdict))
}

/// In one transaction: every decision of the batch, the leases that end or go back, and
/// the rate-limit slots of the dials (campaign calls per minute, then the trunk's calls
/// per second). Dials that get no slot go back to the queue for when one frees up.
/// Returns the dials, earliest slot first.
async fn record_and_claim<'a>(
    engine: &Inner,
    campaign: &RunningCampaign,
    context: &DialContext,
    leased: &'a [LeasedAttempt],
    plans: Vec<(Plan, Option<pre_dial::Verdict>)>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Planned<'a>>> {
    let owner = engine.owner.as_str();
    let mut tx = engine.db.begin().await?;
    let mut dials = Vec::new();
    for (attempt, (plan, verdict)) in leased.iter().zip(plans) {
        let id = attempt.id;
        match plan {
            Plan::Close {
                state,
                reason,
                decision,
                detail,
            } => {
                queue::close_leased(&mut *tx, id, owner, state, reason).await?;
                queue::record_decision(&mut *tx, campaign, id, now, decision, detail.as_deref())
                    .await?;
            }
            Plan::Release {
                at,
                reason,
                decision,
                detail,
            } => {
                queue::release(&mut *tx, id, owner, at, reason).await?;
                queue::record_decision(&mut *tx, campaign, id, now, decision, Some(&detail))
                    .await?;
            }
            Plan::Dial { phone } => {
                if let Some(verdict) = &verdict {
                    if !verdict.eligible {
                        queue::close_leased(&mut *tx, id, owner, "skipped", Some("pre_dial"))
                            .await?;
                    }
                    queue::record_decision(
                        &mut *tx,
                        campaign,
                        id,
                        now,
                        verdict.decision(),
                        Some(&verdict.detail),
                    )
                    .await?;
                    if !verdict.eligible {
                        continue;
                    }
                }
                dials.push(Planned {
                    attempt,
                    phone,
                    slot: now,
                });
            }
        }
    }
    let mut granted = dials.len();
    let mut retry_at = vec![(None, ""); dials.len()];
    let mut limits = Vec::new();
    if let Some(cpm) = campaign.calls_per_minute {
        let key = format!("campaign:{}", campaign.id);
        limits.push((key, rate::per_minute(cpm), "calls per minute"));
    }
    let trunk = rate::per_second(context.calls_per_second);
    let key = format!("trunk:{}", campaign.trunk_id);
    limits.push((key, trunk, "trunk calls per second"));
    // Slots count from the time of the claim, not of the tick: a slot counted from a
    // stale moment lets this replica's dial leave less than an interval after another
    // replica's (seen as 118 ms gaps at 5 calls per second across two replicas).
    let claimed_at = engine.clock.now().max(now);
    for (key, interval, limit) in limits {
        let claim = rate::claim(&mut tx, &key, interval, claimed_at, granted).await?;
        for (dial, slot) in dials.iter_mut().zip(&claim.slots) {
            dial.slot = dial.slot.max(*slot);
        }
        for at in &mut retry_at[claim.slots.len()..granted] {
            *at = (claim.retry_at, limit);
        }
        granted = claim.slots.len();
    }
    for (dial, (at, limit)) in dials[granted..].iter().zip(&retry_at[granted..]) {
        let at = at.unwrap_or(now);
        queue::release(&mut *tx, dial.attempt.id, owner, at, None).await?;
        // A deferral like any other: the attempts view says why it waits.
        let detail = format!("{limit}; slot at {at}");
        queue::record_decision(
            &mut *tx,
            campaign,
            dial.attempt.id,
            now,
            "deferred_rate",
            Some(&detail),
        )
        .await?;
    }
    tx.commit().await?;
    dials.truncate(granted);
    Ok(dials)
}

async fn dial_context(
    engine: &Inner,
    campaign: &RunningCampaign,
) -> anyhow::Result<Option<DialContext>> {
    let row = sqlx::query!(
        r#"select t.numbers, t.calls_per_second, t.account_sid, t.auth_token_enc,
                  t.livekit_trunk_id, a.current_version, (a.definition->>'maxDurationSec')::int as max_duration_sec,
                  exists(select 1 from campaign_pre_dial_checks p where p.campaign_id = $4) as "pre_dial!"
           from trunks t, assistants a
           where t.id = $1 and a.id = $2 and t.org_id = $3 and a.org_id = $3"#,
        campaign.trunk_id,
        campaign.assistant_id,
        campaign.org_id,
        campaign.id
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
        pre_dial: r.pre_dial,
    }))
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
