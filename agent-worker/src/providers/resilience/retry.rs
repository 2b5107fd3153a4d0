//! Trying a chain of providers: each one through its breaker, a few times with short
//! jittered backoff when the error is worth retrying, then the next.
//!
//! An attempt here ends at the first byte (first token, first audio chunk, an open STT
//! session): that is the last moment a retry is invisible to the callee. What happens
//! after it is the fallback streams' business.

use super::Link;
use crate::providers::config::RetryConfig;
use crate::providers::cost::{Kind, UsageMeter};
use crate::providers::ProviderError;
use rand::Rng;
use std::future::Future;
use std::time::Duration;

/// How often and how fast to retry one provider.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries per provider, at least 1.
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// From the config's `[retry]`.
    pub fn from_config(config: &RetryConfig) -> Self {
        Self {
            attempts: config.attempts.max(1),
            base: Duration::from_millis(config.backoff_base_ms),
            max: Duration::from_millis(config.backoff_max_ms),
        }
    }

    /// The pause before retry number `retry` (0 = the first retry): exponential, capped,
    /// then a random point in its upper half, so calls that failed together do not all
    /// come back together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max);
        let ms = ceiling.as_millis() as u64;
        if ms < 2 {
            return ceiling;
        }
        Duration::from_millis(rand::thread_rng().gen_range(ms / 2..=ms))
    }
}

/// Which link answered, and with what.
#[derive(Debug)]
pub struct Answered<R> {
    pub index: usize,
    pub value: R,
}

/// Tries `links` in `order` until one `attempt` succeeds within `limit`.
///
/// Per link: skipped if its breaker is open; otherwise up to `retry.attempts` tries while
/// the error is retryable. Every try is a request on the meter, every failure an error
/// and a report to the breaker. The error returned is the last real one (a `CircuitOpen`
/// only when nothing else happened).
pub async fn try_chain<P, R, F, Fut>(
    links: &[Link<P>],
    order: impl IntoIterator<Item = usize>,
    retry: &RetryPolicy,
    limit: Duration,
    kind: Kind,
    meter: &UsageMeter,
    mut attempt: F,
) -> Result<Answered<R>, ProviderError>
where
    P: ?Sized,
    F: FnMut(&Link<P>) -> Fut,
    Fut: Future<Output = Result<R, ProviderError>>,
{
    let mut last_error: Option<ProviderError> = None;
    for index in order {
        let Some(link) = links.get(index) else {
            continue;
        };
        for tried in 0..retry.attempts.max(1) {
            let permit = match link.breaker.try_acquire(&link.name) {
                Ok(permit) => permit,
                Err(open) => {
                    if last_error.is_none() {
                        last_error = Some(open);
                    }
                    break;
                }
            };
            meter.request(kind, &link.name);
            let outcome = match tokio::time::timeout(limit, attempt(link)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(ProviderError::Timeout {
                    provider: link.name.clone(),
                    ms: limit.as_millis() as u64,
                }),
            };
            match outcome {
                Ok(value) => {
                    permit.success();
                    return Ok(Answered { index, value });
                }
                Err(error) => {
                    meter.error(kind, &link.name);
                    permit.failure(&error);
                    tracing::warn!(kind = kind.as_str(), provider = %link.name, try_no = tried + 1, %error, "provider failed");
                    let again = error.is_retryable() && tried + 1 < retry.attempts;
                    last_error = Some(error);
                    if !again {
                        break;
                    }
                    tokio::time::sleep(retry.backoff(tried)).await;
                }
            }
        }
    }
    Err(last_error.unwrap_or_else(|| ProviderError::NotConfigured {
        provider: kind.as_str().to_string(),
        message: "no provider to try".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::config::BreakerConfig;
    use crate::providers::resilience::breaker::Breakers;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    fn links(names: &[&str], breakers: &Breakers) -> Vec<Link<()>> {
        names
            .iter()
            .map(|n| Link::new(n, Arc::new(()), breakers.get("llm", n), true))
            .collect()
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(10),
            max: Duration::from_millis(40),
        }
    }

    fn status(provider: &str, status: u16) -> ProviderError {
        ProviderError::Status {
            provider: provider.into(),
            status,
            body: String::new(),
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered_within_its_upper_half() {
        let p = policy();
        for retry in 0..6 {
            let ceiling = (10u64 << retry).min(40);
            let ms = p.backoff(retry).as_millis() as u64;
            assert!(ms >= ceiling / 2 && ms <= ceiling, "retry {retry}: {ms}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retryable_errors_are_retried_then_the_next_provider_is_tried() {
        let breakers = Breakers::new(BreakerConfig::default());
        let links = links(&["a", "b"], &breakers);
        let meter = UsageMeter::new();
        let calls = AtomicU32::new(0);
        let answered = try_chain(
            &links,
            0..2,
            &policy(),
            Duration::from_secs(1),
            Kind::Llm,
            &meter,
            |link| {
                calls.fetch_add(1, Ordering::SeqCst);
                let name = link.name.clone();
                async move {
                    if name == "a" {
                        Err(status(&name, 503))
                    } else {
                        Ok(name)
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(answered.index, 1);
        assert_eq!(answered.value, "b");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        let usage = meter.snapshot();
        assert_eq!(usage.llm["a"].requests, 3);
        assert_eq!(usage.llm["a"].errors, 3);
        assert_eq!(usage.llm["b"].requests, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_error_moves_on_without_retrying() {
        let breakers = Breakers::new(BreakerConfig::default());
        let links = links(&["a", "b"], &breakers);
        let meter = UsageMeter::new();
        let result: Result<Answered<()>, _> = try_chain(
            &links,
            0..2,
            &policy(),
            Duration::from_secs(1),
            Kind::Llm,
            &meter,
            |link| {
                let e = status(&link.name, 400);
                async move { Err(e) }
            },
        )
        .await;
        assert_eq!(result.unwrap_err(), status("b", 400));
        assert_eq!(meter.snapshot().llm["a"].requests, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_attempt_times_out_and_an_open_breaker_is_skipped() {
        let breakers = Breakers::new(BreakerConfig {
            failure_threshold: 1,
            ..BreakerConfig::default()
        });
        let links = links(&["slow", "b"], &breakers);
        let meter = UsageMeter::new();
        let one = RetryPolicy {
            attempts: 1,
            ..policy()
        };
        let result: Result<Answered<()>, _> = try_chain(
            &links[..1],
            0..1,
            &one,
            Duration::from_millis(100),
            Kind::Llm,
            &meter,
            |_| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok(())
            },
        )
        .await;
        assert_eq!(
            result.unwrap_err(),
            ProviderError::Timeout {
                provider: "slow".into(),
                ms: 100
            }
        );
        // Its breaker (threshold 1) is now open: the chain goes straight to "b".
        let calls = AtomicU32::new(0);
        let answered = try_chain(
            &links,
            0..2,
            &one,
            Duration::from_millis(100),
            Kind::Llm,
            &meter,
            |link| {
                calls.fetch_add(1, Ordering::SeqCst);
                let name = link.name.clone();
                async move { Ok(name) }
            },
        )
        .await
        .unwrap();
        assert_eq!(answered.value, "b");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
