//! Rate limits shared by every control-plane replica: GCRA state in one PostgreSQL row
//! per key, advanced atomically by an upsert. Used for each trunk's calls per second and
//! each campaign's calls per minute.
//!
//! A permit is a *slot*: a moment at which one call may start. Slots are handed out up to
//! a short horizon ahead, so one engine tick can take many of them and start each dial at
//! its own slot, evenly spaced, instead of one dial per tick.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

/// How far ahead slots are handed out.
pub const HORIZON: Duration = Duration::seconds(1);

/// Reserves the next slot for `key` if it falls within [`HORIZON`] of `now`; otherwise
/// returns the time at which a slot can next be reserved.
pub async fn reserve(
    db: &PgPool,
    key: &str,
    interval: Duration,
    now: DateTime<Utc>,
) -> sqlx::Result<Result<DateTime<Utc>, DateTime<Utc>>> {
    let micros = interval.num_microseconds().unwrap_or(i64::MAX);
    let horizon = HORIZON.num_microseconds().unwrap_or(0);
    // `tat` (theoretical arrival time) is the end of the last slot handed out. The next
    // slot starts at max(tat, now); it is granted when that start is within the horizon.
    // Check and update are one atomic statement, so replicas never share a slot.
    let granted = sqlx::query_scalar!(
        r#"insert into rate_limits (key, tat)
           values ($1, $2::timestamptz + make_interval(secs => $3::bigint / 1e6))
           on conflict (key) do update
               set tat = greatest(rate_limits.tat, $2) + make_interval(secs => $3::bigint / 1e6)
               where greatest(rate_limits.tat, $2) <= $2 + make_interval(secs => $4::bigint / 1e6)
           returning tat - make_interval(secs => $3::bigint / 1e6) as "slot!""#,
        key,
        now,
        micros,
        horizon
    )
    .fetch_optional(db)
    .await?;
    if let Some(slot) = granted {
        return Ok(Ok(slot));
    }
    let tat = sqlx::query_scalar!("select tat from rate_limits where key = $1", key)
        .fetch_one(db)
        .await?;
    Ok(Err(tat - HORIZON))
}

/// The spacing between calls for a per-second rate.
pub fn per_second(rate: f64) -> Duration {
    Duration::microseconds((1_000_000.0 / rate.max(0.001)) as i64)
}

/// The spacing between calls for a per-minute rate.
pub fn per_minute(rate: i32) -> Duration {
    Duration::microseconds(60_000_000 / i64::from(rate.max(1)))
}

/// How many slots of `interval` fit in the horizon (at least one).
pub fn slots_per_horizon(interval: Duration) -> i64 {
    let interval = interval.num_microseconds().unwrap_or(i64::MAX).max(1);
    (HORIZON.num_microseconds().unwrap_or(0) / interval).max(1)
}

/// Slots claimed at once for a batch of dials.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// One start time per granted dial, evenly spaced, earliest first.
    pub slots: Vec<DateTime<Utc>>,
    /// When the dials that got no slot may ask again (`None` when every dial got one).
    pub retry_at: Option<DateTime<Utc>>,
}

/// GCRA over a batch: the slots `n` dials may take now, given the key's `tat` (`None`: the
/// key was never used), and the key's new `tat`. The same rule as [`reserve`], applied `n`
/// times: each slot is granted while its start is within [`HORIZON`] of `now`.
pub fn grant(
    tat: Option<DateTime<Utc>>,
    interval: Duration,
    now: DateTime<Utc>,
    n: usize,
) -> (Claim, DateTime<Utc>) {
    let start = tat.map_or(now, |tat| tat.max(now));
    let interval_us = interval.num_microseconds().unwrap_or(i64::MAX).max(1);
    let room_us = (now + HORIZON - start).num_microseconds().unwrap_or(-1);
    let fits = if room_us < 0 {
        0
    } else {
        usize::try_from(room_us / interval_us + 1).unwrap_or(usize::MAX)
    };
    let granted = n.min(fits);
    let slots: Vec<DateTime<Utc>> = (0..granted)
        .map(|i| start + Duration::microseconds(interval_us.saturating_mul(i as i64)))
        .collect();
    let new_tat = start + Duration::microseconds(interval_us.saturating_mul(granted as i64));
    let retry_at = (granted < n).then(|| new_tat - HORIZON);
    (Claim { slots, retry_at }, new_tat)
}

/// Claims slots for up to `n` dials on `key` inside `tx`, in two statements (four on a
/// key's first use) and no extra transaction: the key's row is locked until `tx` commits,
/// so replicas claiming on the same key queue behind each other and never share a slot.
pub async fn claim(
    tx: &mut crate::db::Tx<'_>,
    key: &str,
    interval: Duration,
    now: DateTime<Utc>,
    n: usize,
) -> sqlx::Result<Claim> {
    if n == 0 {
        return Ok(Claim {
            slots: Vec::new(),
            retry_at: None,
        });
    }
    let mut tat = sqlx::query_scalar!("select tat from rate_limits where key = $1 for update", key)
        .fetch_optional(&mut **tx)
        .await?;
    if tat.is_none() {
        // A key never used has no row to lock: two replicas claiming on it at once would
        // both grant a horizon of slots from `now`, and dial in pairs for its first second.
        // Create the row (a `tat` of `now` grants what no row does), or wait for the
        // replica that is creating it, then lock it and read what it holds.
        sqlx::query!(
            "insert into rate_limits (key, tat) values ($1, $2) on conflict (key) do nothing",
            key,
            now
        )
        .execute(&mut **tx)
        .await?;
        tat = Some(
            sqlx::query_scalar!("select tat from rate_limits where key = $1 for update", key)
                .fetch_one(&mut **tx)
                .await?,
        );
    }
    let (claim, new_tat) = grant(tat, interval, now, n);
    if !claim.slots.is_empty() {
        sqlx::query!(
            "insert into rate_limits (key, tat) values ($1, $2)
             on conflict (key) do update set tat = excluded.tat",
            key,
            new_tat
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(claim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000, 0).unwrap() + Duration::milliseconds(ms)
    }

    #[test]
    fn a_fresh_key_grants_a_horizon_of_evenly_spaced_slots() {
        let (claim, tat) = grant(None, per_second(10.0), t(0), 50);
        // 0, 100, ..., 1000 ms: the slot at exactly the horizon is granted, as by `reserve`.
        assert_eq!(claim.slots.len(), 11);
        assert_eq!(claim.slots[0], t(0));
        assert_eq!(claim.slots[10], t(1000));
        assert_eq!(tat, t(1100));
        assert_eq!(claim.retry_at, Some(t(100)));
    }

    #[test]
    fn a_batch_smaller_than_the_horizon_gets_every_slot() {
        let (claim, tat) = grant(Some(t(-500)), per_second(100.0), t(0), 5);
        assert_eq!(claim.slots, vec![t(0), t(10), t(20), t(30), t(40)]);
        assert_eq!(tat, t(50));
        assert_eq!(claim.retry_at, None);
    }

    #[test]
    fn slots_continue_after_those_already_handed_out() {
        let (claim, tat) = grant(Some(t(900)), per_second(10.0), t(0), 5);
        assert_eq!(claim.slots, vec![t(900), t(1000)]);
        assert_eq!(tat, t(1100));
        assert_eq!(claim.retry_at, Some(t(100)));
    }

    #[test]
    fn nothing_is_granted_past_the_horizon() {
        let (claim, tat) = grant(Some(t(1500)), per_second(1.0), t(0), 3);
        assert!(claim.slots.is_empty());
        assert_eq!(tat, t(1500));
        assert_eq!(claim.retry_at, Some(t(500)));
    }

    #[test]
    fn one_dial_at_a_time_matches_the_batch() {
        let interval = per_minute(600);
        let (batch, batch_tat) = grant(Some(t(50)), interval, t(0), 30);
        let mut tat = Some(t(50));
        let mut one_by_one = Vec::new();
        for _ in 0..30 {
            let (claim, next) = grant(tat, interval, t(0), 1);
            one_by_one.extend(claim.slots);
            tat = Some(next);
        }
        assert_eq!(batch.slots, one_by_one);
        assert_eq!(Some(batch_tat), tat);
    }
}
