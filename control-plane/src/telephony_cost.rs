//! The telephony line of a call's cost: the provider bills the call's minutes (each
//! started minute in full, as Twilio does), priced at the deployment's per-minute rate.
//! It is written when the provider's final status callback brings the duration, beside
//! the worker's provider costs and the analysis cost, and the call's total includes it.

use uuid::Uuid;

/// Prices the call's `duration_sec` at `cents_per_minute` into `cost_breakdown.telephony`
/// and `cost_cents`. Idempotent: a repeated callback replaces the line, never adds twice.
pub async fn price_call(
    db: impl sqlx::PgExecutor<'_>,
    call: Uuid,
    duration_sec: i32,
    cents_per_minute: f64,
) -> sqlx::Result<()> {
    let minutes = billed_minutes(duration_sec);
    let cents = f64::from(minutes) * cents_per_minute;
    sqlx::query!(
        "update calls
         set cost_cents = cost_cents
                          - coalesce((cost_breakdown->'telephony'->>'cents')::float8, 0) + $4,
             cost_breakdown = cost_breakdown || jsonb_build_object('telephony',
                 jsonb_build_object('seconds', $2::int, 'billedMinutes', $3::int,
                                    'centsPerMinute', $5::float8, 'cents', $4::float8))
         where id = $1",
        call,
        duration_sec,
        minutes,
        cents,
        cents_per_minute
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Minutes billed for a call of `seconds`: every started minute; nothing for a call that
/// never connected.
fn billed_minutes(seconds: i32) -> i32 {
    if seconds <= 0 {
        0
    } else {
        (seconds + 59) / 60
    }
}

#[cfg(test)]
mod tests {
    use super::billed_minutes;

    #[test]
    fn every_started_minute_is_billed() {
        assert_eq!(billed_minutes(0), 0);
        assert_eq!(billed_minutes(-3), 0);
        assert_eq!(billed_minutes(1), 1);
        assert_eq!(billed_minutes(60), 1);
        assert_eq!(billed_minutes(61), 2);
    }
}
