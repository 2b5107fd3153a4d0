//! Failed logins per account: after `failures` in a row (within `lock`), the account is
//! locked for `lock`. Keyed by the email as typed (normalized), whether or not an account
//! has it, so a lock does not tell which emails exist. In this process's memory, like
//! the windows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Lockout {
    failures: u32,
    lock: Duration,
    /// Per account: failures so far, since when, and until when it is locked.
    entries: Mutex<HashMap<String, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

const SWEEP_AT: usize = 10_000;

impl Lockout {
    pub fn new(failures: u32, lock: Duration) -> Self {
        Self {
            failures,
            lock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How much longer `account` stays locked, if it is.
    pub fn locked_for(&self, account: &str, now: Instant) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(account)
            .and_then(|f| f.locked_until)
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Records a failed login; returns the lock's length when this failure locked it.
    pub fn failed(&self, account: &str, now: Instant) -> Option<Duration> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SWEEP_AT {
            let lock = self.lock;
            entries.retain(|_, f| {
                now.duration_since(f.first) < lock || f.locked_until.is_some_and(|u| u > now)
            });
        }
        let fresh = Failures {
            count: 0,
            first: now,
            locked_until: None,
        };
        let entry = entries.entry(account.to_string()).or_insert(fresh);
        // Failures spread wider than a lock's length start the count over, as does the
        // end of a lock.
        let lock_over = entry.locked_until.is_some_and(|until| until <= now);
        if lock_over || now.duration_since(entry.first) >= self.lock {
            *entry = fresh;
        }
        entry.count += 1;
        if entry.count >= self.failures {
            entry.locked_until = Some(now + self.lock);
            Some(self.lock)
        } else {
            None
        }
    }

    /// A good login clears the account's failures.
    pub fn succeeded(&self, account: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_lock_the_account_for_a_while() {
        let lockout = Lockout::new(3, Duration::from_secs(600));
        let t0 = Instant::now();
        assert_eq!(lockout.failed("a@x", t0), None);
        assert_eq!(lockout.failed("a@x", t0), None);
        assert_eq!(lockout.failed("a@x", t0), Some(Duration::from_secs(600)));
        assert_eq!(
            lockout.locked_for("a@x", t0 + Duration::from_secs(100)),
            Some(Duration::from_secs(500))
        );
        assert_eq!(lockout.locked_for("b@x", t0), None);
        assert_eq!(
            lockout.locked_for("a@x", t0 + Duration::from_secs(600)),
            None
        );
        // After the lock, the count starts over.
        assert_eq!(lockout.failed("a@x", t0 + Duration::from_secs(601)), None);
    }

    #[test]
    fn a_good_login_clears_the_failures() {
        let lockout = Lockout::new(2, Duration::from_secs(600));
        let t0 = Instant::now();
        assert_eq!(lockout.failed("a@x", t0), None);
        lockout.succeeded("a@x");
        assert_eq!(lockout.failed("a@x", t0), None);
    }
}
