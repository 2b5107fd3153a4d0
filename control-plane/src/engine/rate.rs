//! Rate limits shared by every control-plane replica: GCRA state in one PostgreSQL row
//! per key, advanced atomically by an upsert. Used for each trunk's calls per second and
//! each campaign's calls per minute.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

/// Takes one permit for `key` at `now` if the spacing `interval` allows it; otherwise
/// returns the time the next permit frees up.
pub async fn try_acquire(
    db: &PgPool,
    key: &str,
    interval: Duration,
    now: DateTime<Utc>,
) -> sqlx::Result<Result<(), DateTime<Utc>>> {
    let micros = interval.num_microseconds().unwrap_or(i64::MAX);
    // The theoretical arrival time (tat) moves forward by one interval per permit; a
    // permit is free when tat is not in the future. The conditional upsert makes the
    // check and the update one atomic step.
    let granted = sqlx::query_scalar!(
        r#"insert into rate_limits (key, tat) values ($1, $2::timestamptz + make_interval(secs => $3::bigint / 1e6))
           on conflict (key) do update
               set tat = greatest(rate_limits.tat, $2) + make_interval(secs => $3::bigint / 1e6)
               where rate_limits.tat <= $2
           returning tat"#,
        key,
        now,
        micros
    )
    .fetch_optional(db)
    .await?;
    if granted.is_some() {
        return Ok(Ok(()));
    }
    let tat = sqlx::query_scalar!("select tat from rate_limits where key = $1", key)
        .fetch_one(db)
        .await?;
    Ok(Err(tat))
}

/// The spacing between calls for a per-second rate.
pub fn per_second(rate: f64) -> Duration {
    Duration::microseconds((1_000_000.0 / rate.max(0.001)) as i64)
}

/// The spacing between calls for a per-minute rate.
pub fn per_minute(rate: i32) -> Duration {
    Duration::microseconds(60_000_000 / i64::from(rate.max(1)))
}
