//! Aggregates over calls and provider usage, for `/metrics` and a campaign's stats.
//!
//! Calls are counted in one grouped statement (by status and outcome) and classified here
//! with the shared enums, so "terminal" and "answered" mean the same as everywhere else.

use std::collections::HashMap;

use sqlx::PgPool;
use uuid::Uuid;

use shared::{CallOutcome, CallStatus};

/// Everything the API reports about a set of calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallTally {
    pub total: i64,
    pub by_status: HashMap<CallStatus, i64>,
    pub by_outcome: HashMap<CallOutcome, i64>,
    /// Calls that ended (terminal status).
    pub terminal: i64,
    /// Ended calls that someone (or something) picked up: completed, or with `answered_at`.
    pub answered: i64,
    /// Mean of the calls' `duration_sec` over calls that have one; 0 when none do.
    pub average_duration_sec: f64,
    pub cost_cents: f64,
}

impl CallTally {
    pub fn status(&self, status: CallStatus) -> i64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    pub fn outcome(&self, outcome: CallOutcome) -> i64 {
        self.by_outcome.get(&outcome).copied().unwrap_or(0)
    }

    /// Calls that got past `queued`.
    pub fn started(&self) -> i64 {
        self.total - self.status(CallStatus::Queued)
    }

    /// `part` over the ended calls; 0 when none ended.
    pub fn share_of_terminal(&self, part: i64) -> f64 {
        if self.terminal == 0 {
            0.0
        } else {
            part as f64 / self.terminal as f64
        }
    }
}

/// Tallies the organization's calls, or one campaign's.
pub async fn call_tally(
    db: &PgPool,
    org_id: Uuid,
    campaign_id: Option<Uuid>,
) -> sqlx::Result<CallTally> {
    let groups = sqlx::query!(
        r#"select status, outcome, count(*) as "calls!",
                  count(*) filter (where answered_at is not null) as "answered!",
                  coalesce(sum(duration_sec), 0)::bigint as "duration_sum!",
                  count(duration_sec) as "durations!",
                  coalesce(sum(cost_cents), 0)::float8 as "cost!"
           from calls where org_id = $1 and ($2::uuid is null or campaign_id = $2)
           group by status, outcome"#,
        org_id,
        campaign_id
    )
    .fetch_all(db)
    .await?;

    let mut tally = CallTally::default();
    let (mut duration_sum, mut durations) = (0i64, 0i64);
    for group in groups {
        let status = group
            .status
            .parse::<CallStatus>()
            .map_err(|err| sqlx::Error::Decode(Box::new(err)))?;
        tally.total += group.calls;
        *tally.by_status.entry(status).or_default() += group.calls;
        if let Some(outcome) = group.outcome {
            let outcome = outcome
                .parse::<CallOutcome>()
                .map_err(|err| sqlx::Error::Decode(Box::new(err)))?;
            *tally.by_outcome.entry(outcome).or_default() += group.calls;
        }
        if status.is_terminal() {
            tally.terminal += group.calls;
            tally.answered += if status == CallStatus::Completed {
                group.calls
            } else {
                group.answered
            };
        }
        duration_sum += group.duration_sum;
        durations += group.durations;
        tally.cost_cents += group.cost;
    }
    if durations > 0 {
        tally.average_duration_sec = duration_sum as f64 / durations as f64;
    }
    Ok(tally)
}

/// Requests and errors per provider kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageTotals {
    pub requests: i64,
    pub errors: i64,
}

/// Provider usage of the organization's calls by kind (`stt`, `llm`, `tts`).
pub async fn provider_usage(
    db: &PgPool,
    org_id: Uuid,
) -> sqlx::Result<HashMap<String, UsageTotals>> {
    let rows = sqlx::query!(
        r#"select kind, coalesce(sum(requests), 0)::bigint as "requests!",
                  coalesce(sum(errors), 0)::bigint as "errors!"
           from provider_usage where org_id = $1 group by kind"#,
        org_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                row.kind,
                UsageTotals {
                    requests: row.requests,
                    errors: row.errors,
                },
            )
        })
        .collect())
}
