//! Campaign abandonment: an answered call is abandoned when the callee heard no agent audio
//! within [`ABANDON_AFTER_MS`] of the answer (the FCC's two seconds, 47 CFR
//! 64.1200(a)(7)). The rate is judged over the last 30 days, like the FCC's 3% cap, and a
//! campaign above its threshold pauses itself.
//!
//! The worker measures the delay (`firstAudioMs` in its latency report: milliseconds from
//! the media start, which is the answer, to the first agent audio sent, null if the agent
//! never spoke). Calls without that report (no worker took them, or a worker that does not
//! measure) are not counted either way; answering machines are not live persons and are
//! left out too.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

/// The agent must be heard within this many milliseconds of the answer.
pub const ABANDON_AFTER_MS: i64 = 2_000;

/// The period the rate is judged over.
pub const PERIOD_DAYS: i64 = 30;

/// Fewest measured answered calls before the rate may pause a campaign: below it one slow
/// call among a campaign's first few would read as a rate of 10% or more.
pub const MIN_ANSWERED: i64 = 20;

/// A campaign's abandonment over the period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Abandonment {
    /// Ended calls a person answered whose first-audio delay the worker reported.
    pub answered: i64,
    /// Of those, the ones with no agent audio within 2 s.
    pub abandoned: i64,
    /// `abandoned / answered` in percent (0 when nothing was answered).
    pub rate_pct: f64,
    /// The campaign pauses above this percentage.
    pub threshold_pct: f64,
}

impl Abandonment {
    /// Whether the campaign must pause.
    pub fn over_threshold(&self) -> bool {
        self.answered >= MIN_ANSWERED && self.rate_pct > self.threshold_pct
    }

    /// The reason a paused campaign shows.
    pub fn reason(&self) -> String {
        format!(
            "abandonment rate {:.1}% ({} of {} answered calls without agent audio within 2 s, last {PERIOD_DAYS} days) is above the {}% threshold",
            self.rate_pct, self.abandoned, self.answered, self.threshold_pct
        )
    }
}

/// The campaign's abandonment over the [`PERIOD_DAYS`] before `now`.
pub async fn measure(
    db: &PgPool,
    campaign: Uuid,
    threshold_pct: f64,
    now: DateTime<Utc>,
) -> sqlx::Result<Abandonment> {
    let since = now - Duration::days(PERIOD_DAYS);
    // The engine runs this on every dispatch. The conditions after `created_at` are the
    // partial index calls_abandonment_idx's (migration 20261209000200): change them
    // together, or the count falls back to reading every call of the period.
    let row = sqlx::query!(
        r#"select count(*) as "answered!",
                  count(*) filter (where first_agent_audio_ms is null
                                      or first_agent_audio_ms > $3) as "abandoned!"
           from calls
           where campaign_id = $1 and created_at > $2
             and answered_at is not null and ended_at is not null
             and latency ? 'firstAudioMs'
             and coalesce(answered_by, 'human') not like 'machine%'
             and coalesce(answered_by, 'human') <> 'fax'"#,
        campaign,
        since,
        ABANDON_AFTER_MS
    )
    .fetch_one(db)
    .await?;
    let rate_pct = if row.answered == 0 {
        0.0
    } else {
        row.abandoned as f64 * 100.0 / row.answered as f64
    };
    Ok(Abandonment {
        answered: row.answered,
        abandoned: row.abandoned,
        rate_pct,
        threshold_pct,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(answered: i64, abandoned: i64) -> Abandonment {
        Abandonment {
            answered,
            abandoned,
            rate_pct: abandoned as f64 * 100.0 / answered.max(1) as f64,
            threshold_pct: 3.0,
        }
    }

    #[test]
    fn a_rate_above_the_threshold_pauses_once_enough_calls_were_answered() {
        assert!(tally(20, 1).over_threshold(), "5% > 3%");
        assert!(!tally(40, 1).over_threshold(), "2.5% <= 3%");
        assert!(!tally(19, 19).over_threshold(), "too few answered to judge");
        assert!(tally(20, 1).reason().contains("5.0%"));
    }
}
