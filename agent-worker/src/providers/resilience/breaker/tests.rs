//! The breaker's state machine, on a paused clock.

use super::*;

fn breaker() -> Arc<Breaker> {
    Arc::new(Breaker::new(
        "llm:test",
        &BreakerConfig {
            failure_threshold: 3,
            window_ms: 10_000,
            cooldown_ms: 5_000,
        },
    ))
}

fn timeout() -> ProviderError {
    ProviderError::Timeout {
        provider: "test".into(),
        ms: 1,
    }
}

fn fail(b: &Arc<Breaker>) {
    b.try_acquire("test").unwrap().failure(&timeout());
}

#[tokio::test(start_paused = true)]
async fn failures_in_a_row_open_it_and_a_probe_after_the_cooldown_closes_it() {
    let b = breaker();
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), BreakerState::Closed);
    fail(&b);
    assert_eq!(b.state(), BreakerState::Open);
    assert!(matches!(
        b.try_acquire("test"),
        Err(ProviderError::CircuitOpen { .. })
    ));

    tokio::time::advance(Duration::from_secs(5)).await;
    let probe = b.try_acquire("test").unwrap();
    // Only one probe at a time.
    assert!(b.try_acquire("test").is_err());
    probe.success();
    assert_eq!(b.state(), BreakerState::Closed);
    assert!(b.try_acquire("test").is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_it_for_another_cooldown() {
    let b = breaker();
    for _ in 0..3 {
        fail(&b);
    }
    tokio::time::advance(Duration::from_secs(5)).await;
    fail(&b);
    assert_eq!(b.state(), BreakerState::Open);
    tokio::time::advance(Duration::from_secs(4)).await;
    assert!(b.try_acquire("test").is_err());
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(b.try_acquire("test").is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_probe_lets_the_next_request_probe() {
    let b = breaker();
    for _ in 0..3 {
        fail(&b);
    }
    tokio::time::advance(Duration::from_secs(6)).await;
    drop(b.try_acquire("test").unwrap());
    let again = b.try_acquire("test").unwrap();
    again.success();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn old_failures_and_failures_broken_by_a_success_do_not_add_up() {
    let b = breaker();
    fail(&b);
    fail(&b);
    tokio::time::advance(Duration::from_secs(11)).await;
    fail(&b);
    assert_eq!(b.state(), BreakerState::Closed);
    fail(&b);
    b.try_acquire("test").unwrap().success();
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn request_errors_do_not_count_but_auth_errors_do() {
    let b = breaker();
    let bad_request = ProviderError::Status {
        provider: "test".into(),
        status: 400,
        body: String::new(),
    };
    for _ in 0..5 {
        b.try_acquire("test").unwrap().failure(&bad_request);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    let unauthorized = ProviderError::Status {
        provider: "test".into(),
        status: 401,
        body: String::new(),
    };
    for _ in 0..3 {
        b.report_failure(&unauthorized);
    }
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn breakers_are_shared_per_kind_and_provider() {
    let breakers = Breakers::new(BreakerConfig::default());
    let a = breakers.get("llm", "openai");
    let b = breakers.get("llm", "openai");
    let c = breakers.get("tts", "openai");
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!Arc::ptr_eq(&a, &c));
}
