//! A circuit breaker per provider, shared by every call of the process.
//!
//! When a provider is down, the first few calls pay for finding out (timeouts, refused
//! connections); after `failure_threshold` failures in a row within `window_ms` the breaker
//! opens and every call skips the provider at once for `cooldown_ms`. Then one request is
//! let through as a probe (half-open): its success closes the breaker, its failure opens it
//! for another cool-down. A success in the closed state forgets earlier failures, so a
//! provider that fails now and then is left to retries and fallbacks, not shut out.

use crate::providers::config::BreakerConfig;
use crate::providers::ProviderError;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Whether a failure says something about the provider's health. A 400 for one request
/// (say, a prompt too long) does not; auth failures do, since they fail every request.
pub fn counts_against_provider(error: &ProviderError) -> bool {
    match error {
        ProviderError::Timeout { .. }
        | ProviderError::Connection { .. }
        | ProviderError::Protocol { .. } => true,
        ProviderError::Status { status, .. } => {
            *status >= 500 || matches!(*status, 401 | 403 | 408 | 429)
        }
        ProviderError::CircuitOpen { .. } | ProviderError::NotConfigured { .. } => false,
    }
}

/// A breaker's state, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
enum Mode {
    Closed,
    Open {
        until: Instant,
    },
    /// `probing`: the one probe is out; everyone else is still refused.
    HalfOpen {
        probing: bool,
    },
}

#[derive(Debug)]
struct State {
    mode: Mode,
    /// Recent failures while closed, oldest first.
    failures: VecDeque<Instant>,
}

/// One provider's breaker.
#[derive(Debug)]
pub struct Breaker {
    name: String,
    threshold: usize,
    window: Duration,
    cooldown: Duration,
    state: Mutex<State>,
}

/// Leave to send one request. Report how it went; dropping it unreported (the call was
/// cancelled) frees a half-open probe slot without judging the provider.
#[derive(Debug)]
pub struct Permit {
    breaker: Arc<Breaker>,
    probe: bool,
    reported: bool,
}

impl Breaker {
    /// A closed breaker for `name` (e.g. `llm:openai`).
    pub fn new(name: &str, config: &BreakerConfig) -> Self {
        Self {
            name: name.to_string(),
            threshold: config.failure_threshold.max(1) as usize,
            window: Duration::from_millis(config.window_ms),
            cooldown: Duration::from_millis(config.cooldown_ms),
            state: Mutex::new(State {
                mode: Mode::Closed,
                failures: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current state (an open breaker past its cool-down reads as half-open).
    pub fn state(&self) -> BreakerState {
        match self.lock().mode {
            Mode::Closed => BreakerState::Closed,
            Mode::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            Mode::Open { .. } => BreakerState::Open,
            Mode::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Leave to send a request, or `CircuitOpen` (`provider` names the provider in it).
    pub fn try_acquire(self: &Arc<Self>, provider: &str) -> Result<Permit, ProviderError> {
        let mut state = self.lock();
        let probe = match state.mode {
            Mode::Closed => false,
            Mode::Open { until } if Instant::now() >= until => {
                state.mode = Mode::HalfOpen { probing: true };
                true
            }
            Mode::HalfOpen { probing: false } => {
                state.mode = Mode::HalfOpen { probing: true };
                true
            }
            Mode::Open { .. } | Mode::HalfOpen { probing: true } => {
                return Err(ProviderError::CircuitOpen {
                    provider: provider.to_string(),
                });
            }
        };
        Ok(Permit {
            breaker: Arc::clone(self),
            probe,
            reported: false,
        })
    }

    /// A failure outside a permit (a stream that broke after it had started).
    pub fn report_failure(&self, error: &ProviderError) {
        if counts_against_provider(error) {
            self.on_failure(false);
        }
    }

    fn on_success(&self, probe: bool) {
        let mut state = self.lock();
        // A late success from before the breaker opened proves little; a probe's does.
        if probe || !matches!(state.mode, Mode::Open { .. }) {
            if !matches!(state.mode, Mode::Closed) {
                tracing::info!(breaker = %self.name, "circuit closed");
            }
            state.mode = Mode::Closed;
            state.failures.clear();
        }
    }

    fn on_failure(&self, probe: bool) {
        let now = Instant::now();
        let mut state = self.lock();
        match state.mode {
            Mode::HalfOpen { .. } if probe => {
                state.mode = Mode::Open {
                    until: now + self.cooldown,
                };
                tracing::warn!(breaker = %self.name, "probe failed: circuit open again");
            }
            Mode::Closed => {
                let window = self.window;
                state.failures.retain(|&at| now.duration_since(at) < window);
                state.failures.push_back(now);
                if state.failures.len() >= self.threshold {
                    state.failures.clear();
                    state.mode = Mode::Open {
                        until: now + self.cooldown,
                    };
                    tracing::warn!(breaker = %self.name, cooldown_ms = self.cooldown.as_millis() as u64, "circuit open");
                }
            }
            // Late failures of requests that started before the breaker opened.
            Mode::Open { .. } | Mode::HalfOpen { .. } => {}
        }
    }

    fn on_abandoned(&self, probe: bool) {
        let mut state = self.lock();
        if probe && matches!(state.mode, Mode::HalfOpen { probing: true }) {
            state.mode = Mode::HalfOpen { probing: false };
        }
    }
}

impl Permit {
    /// The request worked.
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.on_success(self.probe);
    }

    /// The request failed with `error` (which may not count against the provider).
    pub fn failure(mut self, error: &ProviderError) {
        self.reported = true;
        if counts_against_provider(error) {
            self.breaker.on_failure(self.probe);
        } else {
            self.breaker.on_abandoned(self.probe);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.on_abandoned(self.probe);
        }
    }
}

/// Every breaker of the process, by `kind:provider`.
#[derive(Debug)]
pub struct Breakers {
    config: BreakerConfig,
    by_name: Mutex<HashMap<String, Arc<Breaker>>>,
}

impl Breakers {
    /// No breakers yet; each is made on first use.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            by_name: Mutex::new(HashMap::new()),
        }
    }

    /// The breaker of `provider` for one kind of work (OpenAI's TTS failing says nothing
    /// about its chat completions).
    pub fn get(&self, kind: &str, provider: &str) -> Arc<Breaker> {
        let key = format!("{kind}:{provider}");
        let mut map = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            map.entry(key.clone())
                .or_insert_with(|| Arc::new(Breaker::new(&key, &self.config))),
        )
    }
}

#[cfg(test)]
mod tests;
