//! The resilient session, driven by scripted providers.

use super::*;
use crate::providers::config::BreakerConfig;
use crate::providers::resilience::testing::{stt_chain, FakeStt, SessionPlan};
use crate::providers::resilience::Breakers;
use crate::providers::{SttEvent, SttInput};
use bytes::Bytes;
use futures::StreamExt;

fn options() -> SttOptions {
    SttOptions {
        model: "job-model".into(),
        language: "en-US".into(),
        endpointing_ms: 300,
    }
}

fn frame(n: u8) -> SttInput {
    SttInput::Audio {
        mulaw: Bytes::from(vec![n; 160]),
        speech: true,
    }
}

fn settings() -> SttSettings {
    SttSettings {
        retry: RetryPolicy {
            attempts: 2,
            base: Duration::from_millis(10),
            max: Duration::from_millis(20),
        },
        ..SttSettings::default()
    }
}

fn stt(fakes: Vec<Arc<FakeStt>>, settings: SttSettings, meter: &UsageMeter) -> FallbackStt {
    let breakers = Breakers::new(BreakerConfig::default());
    FallbackStt::new(stt_chain(fakes, &breakers), settings, meter.clone())
}

fn final_(text: &str, start_ms: u64, end_ms: u64) -> SttEvent {
    SttEvent::Final {
        text: text.into(),
        start_ms,
        end_ms,
        confidence: None,
        speech_final: true,
    }
}

/// Sends `inputs` 20 ms apart, closes the input, and collects every event.
async fn drive(session: SttSession, inputs: Vec<SttInput>) -> Vec<Result<SttEvent, ProviderError>> {
    let SttSession { audio, events } = session;
    let reader = tokio::spawn(events.collect::<Vec<_>>());
    for input in inputs {
        if audio.send(input).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(audio);
    reader.await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_session_that_dies_mid_call_continues_on_the_next_provider_with_nothing_lost() {
    let a = FakeStt::new("a", vec![SessionPlan::DiesAfter(5)]);
    let b = FakeStt::new("b", vec![SessionPlan::Works]);
    let meter = UsageMeter::new();
    let stt = stt(vec![a.clone(), b.clone()], settings(), &meter);
    let session = stt.open(&options()).await.unwrap();
    let mut inputs: Vec<_> = (1..=10).map(frame).collect();
    inputs.push(SttInput::Finalize);
    let events = drive(session, inputs).await;

    assert_eq!(events, vec![Ok(final_("b", 0, 200))]);
    // The frames a had not transcribed were replayed to b, in order.
    let expected: Vec<u8> = (1..=10).flat_map(|n| vec![n; 160]).collect();
    assert_eq!(b.received.lock().unwrap()[0], expected);
    assert_eq!(*a.models.lock().unwrap(), ["job-model"]);
    assert_eq!(*b.models.lock().unwrap(), ["b-model"]);
    let usage = meter.snapshot();
    assert_eq!(usage.resilience.stt_reconnects, 1);
    assert_eq!(usage.resilience.stt_failovers, 1);
    assert_eq!(usage.stt["a"].errors, 1);
    assert_eq!(usage.stt["b"].audio_ms, 200);
}

#[tokio::test(start_paused = true)]
async fn times_from_the_new_session_are_on_the_calls_clock() {
    let a = FakeStt::new("a", vec![SessionPlan::DiesAfter(8)]);
    let b = FakeStt::new("b", vec![SessionPlan::Works]);
    let meter = UsageMeter::new();
    let stt = stt(vec![a, b.clone()], settings(), &meter);
    let session = stt.open(&options()).await.unwrap();
    let mut inputs: Vec<_> = (1..=5).map(frame).collect();
    inputs.push(SttInput::Finalize);
    inputs.extend((6..=10).map(frame));
    inputs.push(SttInput::Finalize);
    let events = drive(session, inputs).await;

    assert_eq!(
        events,
        vec![Ok(final_("a", 0, 100)), Ok(final_("b", 100, 200))]
    );
    // What a had already finalized was not replayed.
    assert_eq!(b.received.lock().unwrap()[0].len(), 5 * 160);
}

#[tokio::test(start_paused = true)]
async fn audio_beyond_the_buffer_is_dropped_and_counted_while_reconnecting() {
    let a = FakeStt::new("a", vec![SessionPlan::DiesAfter(1)]);
    let b = FakeStt::new("b", vec![SessionPlan::SlowOpen(500)]);
    let meter = UsageMeter::new();
    let settings = SttSettings {
        buffer_ms: 100,
        ..settings()
    };
    let stt = stt(vec![a, b.clone()], settings, &meter);
    let session = stt.open(&options()).await.unwrap();
    let mut inputs: Vec<_> = (1..=60).map(frame).collect();
    inputs.push(SttInput::Finalize);
    let events = drive(session, inputs).await;

    let dropped = meter.snapshot().resilience.stt_dropped_audio_ms;
    let got_ms = b.received.lock().unwrap()[0].len() as u64 / 8;
    assert!(dropped >= 300, "dropped {dropped}");
    assert_eq!(got_ms + dropped, 1_200);
    // b's audio starts after the gap: its final ends where the call's audio ends.
    assert_eq!(events, vec![Ok(final_("b", dropped, 1_200))]);
}

#[tokio::test(start_paused = true)]
async fn the_session_fails_only_when_no_provider_reopens() {
    let a = FakeStt::new(
        "a",
        vec![
            SessionPlan::DiesAfter(1),
            SessionPlan::FailOpen,
            SessionPlan::FailOpen,
        ],
    );
    let b = FakeStt::new("b", vec![SessionPlan::FailOpen, SessionPlan::FailOpen]);
    let meter = UsageMeter::new();
    let stt = stt(vec![a.clone(), b.clone()], settings(), &meter);
    let session = stt.open(&options()).await.unwrap();
    let events = drive(session, (1..=20).map(frame).collect()).await;
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], Err(ProviderError::Connection { .. })));
    // b was tried first (a had just died young), then a again.
    assert_eq!(b.models.lock().unwrap().len(), 2);
    assert_eq!(a.models.lock().unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn opening_falls_back_when_the_jobs_provider_is_down() {
    let a = FakeStt::new("a", vec![SessionPlan::FailOpen, SessionPlan::FailOpen]);
    let b = FakeStt::new("b", vec![SessionPlan::Works]);
    let meter = UsageMeter::new();
    let stt = stt(vec![a, b.clone()], settings(), &meter);
    let session = stt.open(&options()).await.unwrap();
    let events = drive(session, vec![frame(1), SttInput::Finalize]).await;
    assert_eq!(events, vec![Ok(final_("b", 0, 20))]);
    let usage = meter.snapshot();
    assert_eq!(usage.stt["a"].requests, 2);
    assert_eq!(usage.resilience.stt_failovers, 1);
    assert_eq!(usage.resilience.stt_reconnects, 0);
}

#[tokio::test(start_paused = true)]
async fn closing_the_input_ends_the_session_cleanly() {
    let a = FakeStt::new("a", vec![SessionPlan::Works]);
    let meter = UsageMeter::new();
    let stt = stt(vec![a], settings(), &meter);
    let session = stt.open(&options()).await.unwrap();
    let events = drive(session, vec![frame(1), frame(2)]).await;
    assert!(events.is_empty());
    assert_eq!(meter.snapshot().stt["a"].errors, 0);
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_keeps_dropping_is_given_up_on() {
    let a = FakeStt::new("a", vec![SessionPlan::DiesAfter(0); 10]);
    let meter = UsageMeter::new();
    let settings = SttSettings {
        max_reconnects_per_minute: 3,
        ..settings()
    };
    let stt = stt(vec![a.clone()], settings, &meter);
    let session = stt.open(&options()).await.unwrap();
    let events = drive(session, (1..=50).map(frame).collect()).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].is_err());
    assert_eq!(a.models.lock().unwrap().len(), 4);
    assert_eq!(meter.snapshot().resilience.stt_reconnects, 3);
}
