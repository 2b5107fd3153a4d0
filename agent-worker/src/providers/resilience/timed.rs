//! Time limits on a stream that has started: at most `idle` between two items, at most
//! `total` for the whole stream. A limit hit ends the stream with `ProviderError::Timeout`;
//! any error ends it too, so what follows an error is never mistaken for good output.

use crate::providers::ProviderError;
use futures::stream::{self, BoxStream, StreamExt};
use std::time::Duration;
use tokio::time::Instant;

/// Limits for one stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Until the first item (applied by the chain, which waits for it).
    pub first: Duration,
    /// Between items.
    pub idle: Duration,
    /// From the request to the end.
    pub total: Duration,
}

struct State<T> {
    inner: BoxStream<'static, Result<T, ProviderError>>,
    provider: String,
    limits: StreamLimits,
    started: Instant,
    last: Instant,
    done: bool,
}

/// `inner` with the idle and total limits, counting from `started` (when the request was
/// sent) and from now for the first idle gap.
pub fn limited<T: Send + 'static>(
    inner: BoxStream<'static, Result<T, ProviderError>>,
    provider: &str,
    limits: StreamLimits,
    started: Instant,
) -> BoxStream<'static, Result<T, ProviderError>> {
    let state = State {
        inner,
        provider: provider.to_string(),
        limits,
        started,
        last: Instant::now(),
        done: false,
    };
    stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        let idle_end = state.last + state.limits.idle;
        let total_end = state.started + state.limits.total;
        let (deadline, limit) = if idle_end <= total_end {
            (idle_end, state.limits.idle)
        } else {
            (total_end, state.limits.total)
        };
        match tokio::time::timeout_at(deadline, state.inner.next()).await {
            Ok(Some(item)) => {
                state.last = Instant::now();
                state.done = item.is_err();
                Some((item, state))
            }
            Ok(None) => None,
            Err(_) => {
                state.done = true;
                let error = ProviderError::Timeout {
                    provider: state.provider.clone(),
                    ms: limit.as_millis() as u64,
                };
                Some((Err(error), state))
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> StreamLimits {
        StreamLimits {
            first: Duration::from_secs(1),
            idle: Duration::from_millis(500),
            total: Duration::from_secs(2),
        }
    }

    fn paced(gaps_ms: Vec<u64>) -> BoxStream<'static, Result<u64, ProviderError>> {
        stream::iter(gaps_ms)
            .then(|gap| async move {
                tokio::time::sleep(Duration::from_millis(gap)).await;
                Ok(gap)
            })
            .boxed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_stream_ends_with_an_idle_timeout() {
        let items: Vec<_> = limited(
            paced(vec![100, 400, 600, 10]),
            "p",
            limits(),
            Instant::now(),
        )
        .collect()
        .await;
        assert_eq!(items.len(), 3);
        assert_eq!(items[0], Ok(100));
        assert_eq!(items[1], Ok(400));
        assert_eq!(
            items[2],
            Err(ProviderError::Timeout {
                provider: "p".into(),
                ms: 500
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_trickles_forever_hits_the_total_limit() {
        let items: Vec<_> = limited(paced(vec![450; 10]), "p", limits(), Instant::now())
            .collect()
            .await;
        assert_eq!(items.iter().filter(|i| i.is_ok()).count(), 4);
        assert_eq!(
            items.last(),
            Some(&Err(ProviderError::Timeout {
                provider: "p".into(),
                ms: 2_000
            }))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_follows_an_error() {
        let inner = stream::iter(vec![
            Ok(1),
            Err(ProviderError::Protocol {
                provider: "p".into(),
                message: "x".into(),
            }),
            Ok(2),
        ])
        .boxed();
        let items: Vec<_> = limited(inner, "p", limits(), Instant::now())
            .collect()
            .await;
        assert_eq!(items.len(), 2);
    }
}
