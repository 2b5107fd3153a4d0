//! The LLM chain, driven by scripted providers.

use super::*;
use crate::providers::resilience::testing::{chain_of, limits, policy, FakeLlm, Plan};
use crate::providers::ToolCall;
use std::time::Duration;

fn request() -> LlmRequest {
    LlmRequest {
        model: "job-model".into(),
        temperature: 0.5,
        messages: vec![ChatMessage::User("x".repeat(400))],
        tools: vec![],
    }
}

fn error(status: u16) -> ProviderError {
    ProviderError::Status {
        provider: "a".into(),
        status,
        body: String::new(),
    }
}

async fn collect(llm: &FallbackLlm) -> Vec<Result<LlmEvent, ProviderError>> {
    llm.stream(request()).await.unwrap().collect().await
}

#[tokio::test(start_paused = true)]
async fn the_jobs_provider_answers_and_reports_usage() {
    let a = FakeLlm::new(
        "a",
        vec![Plan::Items(vec![
            Ok(LlmEvent::Token("Hi".into())),
            Ok(LlmEvent::Usage {
                prompt_tokens: 10,
                completion_tokens: 2,
            }),
        ])],
    );
    let meter = UsageMeter::new();
    let llm = FallbackLlm::new(
        chain_of(vec![a.clone()], "fallback-model"),
        policy(),
        limits(),
        meter.clone(),
    );
    let events = collect(&llm).await;
    assert_eq!(events.len(), 2);
    assert_eq!(a.requests()[0].model, "job-model");
    let usage = meter.snapshot();
    let tokens = &usage.llm["a"].models["job-model"];
    assert_eq!(
        (
            tokens.prompt_tokens,
            tokens.completion_tokens,
            tokens.estimated
        ),
        (10, 2, false)
    );
    assert_eq!(usage.resilience.llm_fallbacks, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failing_provider_is_retried_then_the_fallback_answers_with_its_own_model() {
    let a = FakeLlm::new("a", vec![Plan::Fail(error(503)), Plan::Fail(error(503))]);
    let b = FakeLlm::new(
        "b",
        vec![Plan::Items(vec![Ok(LlmEvent::Token("from b".into()))])],
    );
    let meter = UsageMeter::new();
    let llm = FallbackLlm::new(
        chain_of(vec![a.clone(), b.clone()], "b-model"),
        policy(),
        limits(),
        meter.clone(),
    );
    let events = collect(&llm).await;
    assert_eq!(events, vec![Ok(LlmEvent::Token("from b".into()))]);
    assert_eq!(a.requests().len(), 2);
    assert_eq!(b.requests()[0].model, "b-model");
    let usage = meter.snapshot();
    assert_eq!(usage.llm["a"].errors, 2);
    assert_eq!(usage.resilience.llm_fallbacks, 1);
    // No usage from the service: estimated from 400 prompt chars and 6 reply chars.
    let tokens = &usage.llm["b"].models["b-model"];
    assert_eq!(
        (
            tokens.prompt_tokens,
            tokens.completion_tokens,
            tokens.estimated
        ),
        (100, 2, true)
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_before_the_first_token_falls_back_but_one_after_it_is_passed_through() {
    let early = ProviderError::Connection {
        provider: "a".into(),
        message: "reset".into(),
    };
    let a = FakeLlm::new(
        "a",
        vec![
            Plan::Items(vec![Err(early.clone())]),
            Plan::Items(vec![Err(early.clone())]),
            Plan::Items(vec![Ok(LlmEvent::Token("one".into())), Err(early.clone())]),
        ],
    );
    let b = FakeLlm::new(
        "b",
        vec![Plan::Items(vec![Ok(LlmEvent::Token("b".into()))])],
    );
    let llm = FallbackLlm::new(
        chain_of(vec![a.clone(), b.clone()], "m"),
        policy(),
        limits(),
        UsageMeter::new(),
    );
    assert_eq!(collect(&llm).await, vec![Ok(LlmEvent::Token("b".into()))]);
    // Next request: a answers, then breaks mid-stream: no retry, no fallback.
    let events = collect(&llm).await;
    assert_eq!(events, vec![Ok(LlmEvent::Token("one".into())), Err(early)]);
    assert_eq!(b.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_silent_provider_times_out_before_the_first_token_and_a_stalled_one_mid_stream() {
    let a = FakeLlm::new("a", vec![Plan::Hang, Plan::Hang]);
    let b = FakeLlm::new(
        "b",
        vec![Plan::ItemsThenHang(vec![Ok(LlmEvent::ToolCall(
            ToolCall {
                id: "1".into(),
                name: "end_call".into(),
                arguments: "{}".into(),
            },
        ))])],
    );
    let llm = FallbackLlm::new(
        chain_of(vec![a, b], "m"),
        policy(),
        limits(),
        UsageMeter::new(),
    );
    let started = Instant::now();
    let events = collect(&llm).await;
    assert_eq!(events.len(), 2);
    assert!(matches!(
        events[1],
        Err(ProviderError::Timeout { ms: 500, .. })
    ));
    // Two first-token timeouts (1 s each), a backoff, then the idle timeout (0.5 s).
    assert!(started.elapsed() >= Duration::from_millis(2_500));
}

#[tokio::test(start_paused = true)]
async fn a_stream_dropped_early_still_records_an_estimate() {
    let a = FakeLlm::new(
        "a",
        vec![Plan::ItemsThenHang(vec![Ok(LlmEvent::Token(
            "abcdefgh".into(),
        ))])],
    );
    let meter = UsageMeter::new();
    let llm = FallbackLlm::new(chain_of(vec![a], "m"), policy(), limits(), meter.clone());
    let mut events = llm.stream(request()).await.unwrap();
    assert!(events.next().await.is_some());
    drop(events);
    let tokens = &meter.snapshot().llm["a"].models["job-model"];
    assert_eq!((tokens.prompt_tokens, tokens.completion_tokens), (100, 2));
}

#[tokio::test(start_paused = true)]
async fn when_every_provider_fails_the_last_real_error_is_returned() {
    let a = FakeLlm::new("a", vec![Plan::Fail(error(400))]);
    let llm = FallbackLlm::new(
        chain_of(vec![a], "m"),
        policy(),
        limits(),
        UsageMeter::new(),
    );
    assert_eq!(llm.stream(request()).await.err(), Some(error(400)));
}
