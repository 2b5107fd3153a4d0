//! What happens to an attempt after a call: done, retried later, or out of attempts.

use chrono::{DateTime, Duration, Utc};
use shared::AttemptResult;

/// A campaign's retry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: i32,
    pub busy_min: i32,
    pub no_answer_min: i32,
    pub failed_min: i32,
    pub voicemail_min: i32,
}

/// The attempt's next state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Reached the callee, or can never reach them (invalid number): finished.
    Done,
    /// Try again at this time; the attempt counts.
    Retry(DateTime<Utc>),
    /// The dial never really happened (no worker, rate limited): try again at this time
    /// without counting it.
    Requeue(DateTime<Utc>),
    /// Out of attempts.
    Exhausted,
    /// Canceled (campaign stopped or call canceled by an operator).
    Canceled,
}

impl RetryPolicy {
    /// `attempts_made` counts the attempt that just ended.
    pub fn next_step(
        &self,
        result: AttemptResult,
        attempts_made: i32,
        now: DateTime<Utc>,
    ) -> NextStep {
        let delay_min = match result {
            AttemptResult::Answered | AttemptResult::InvalidNumber => return NextStep::Done,
            AttemptResult::Canceled => return NextStep::Canceled,
            AttemptResult::NoWorker => return NextStep::Requeue(now + Duration::seconds(30)),
            AttemptResult::Busy => self.busy_min,
            AttemptResult::NoAnswer => self.no_answer_min,
            AttemptResult::Voicemail => self.voicemail_min,
            AttemptResult::Failed | AttemptResult::Declined => self.failed_min,
        };
        if attempts_made >= self.max_attempts {
            NextStep::Exhausted
        } else {
            NextStep::Retry(now + Duration::minutes(i64::from(delay_min)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        busy_min: 30,
        no_answer_min: 60,
        failed_min: 120,
        voicemail_min: 240,
    };

    #[test]
    fn each_result_waits_its_own_delay() {
        let now = Utc::now();
        assert_eq!(
            POLICY.next_step(AttemptResult::Busy, 1, now),
            NextStep::Retry(now + Duration::minutes(30))
        );
        assert_eq!(
            POLICY.next_step(AttemptResult::NoAnswer, 2, now),
            NextStep::Retry(now + Duration::minutes(60))
        );
        assert_eq!(
            POLICY.next_step(AttemptResult::Voicemail, 1, now),
            NextStep::Retry(now + Duration::minutes(240))
        );
    }

    #[test]
    fn the_last_attempt_exhausts_and_success_finishes() {
        let now = Utc::now();
        assert_eq!(
            POLICY.next_step(AttemptResult::Busy, 3, now),
            NextStep::Exhausted
        );
        assert_eq!(
            POLICY.next_step(AttemptResult::Answered, 1, now),
            NextStep::Done
        );
        assert_eq!(
            POLICY.next_step(AttemptResult::InvalidNumber, 1, now),
            NextStep::Done
        );
        assert!(matches!(
            POLICY.next_step(AttemptResult::NoWorker, 3, now),
            NextStep::Requeue(_)
        ));
    }
}
