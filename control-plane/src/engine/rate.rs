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
