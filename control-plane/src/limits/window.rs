//! A fixed-window counter per key, in this process's memory: at most `limit` hits per key
//! in each `window`. Every replica counts alone, so a deployment of N replicas admits up to
//! N times the limit; the limits are there to stop floods and guessing, not to meter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a key stands after a hit: the headers a client is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window starts over (at least 1).
    pub reset_sec: u64,
}

impl RateInfo {
    /// `X-RateLimit-Limit`, `-Remaining` and `-Reset` (seconds until the window starts
    /// over), unless the answer already has them.
    pub fn write(&self, headers: &mut axum::http::HeaderMap) {
        for (name, value) in [
            ("x-ratelimit-limit", u64::from(self.limit)),
            ("x-ratelimit-remaining", u64::from(self.remaining)),
            ("x-ratelimit-reset", self.reset_sec),
        ] {
            if !headers.contains_key(name) {
                headers.insert(name, axum::http::HeaderValue::from(value));
            }
        }
    }
}

/// Keys beyond this many make a hit sweep out the expired ones first, so that a flood of
/// distinct keys cannot grow the map without bound.
const SWEEP_AT: usize = 10_000;

#[derive(Debug)]
pub struct Windows {
    limit: u32,
    window: Duration,
    /// Per key: when its window started and how many hits it has seen.
    entries: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Windows {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a hit for `key`: `Ok` when within the limit, `Err` when over it.
    pub fn hit(&self, key: &str, now: Instant) -> Result<RateInfo, RateInfo> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SWEEP_AT {
            let window = self.window;
            entries.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = entries.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let left = self.window.saturating_sub(now.duration_since(entry.0));
        let info = RateInfo {
            limit: self.limit,
            remaining: self.limit.saturating_sub(entry.1),
            reset_sec: left.as_secs_f64().ceil().max(1.0) as u64,
        };
        if entry.1 > self.limit {
            Err(info)
        } else {
            Ok(info)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_limit_per_window_then_starts_over() {
        let windows = Windows::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(windows.hit("a", t0).unwrap().remaining, 1);
        assert_eq!(windows.hit("a", t0).unwrap().remaining, 0);
        let over = windows.hit("a", t0 + Duration::from_secs(15)).unwrap_err();
        assert_eq!((over.remaining, over.reset_sec), (0, 45));
        // Other keys count apart.
        assert!(windows.hit("b", t0).is_ok());
        assert!(windows.hit("a", t0 + Duration::from_secs(60)).is_ok());
    }
}
