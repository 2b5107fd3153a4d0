//! End-to-end tests of live supervision: a campaign call through the Twilio emulator held
//! by a real agent worker, a supervisor on the control plane's listen WebSocket and
//! control route, the callee's emulated ear deciding what it really heard, and the LLM
//! emulator recording what the model was asked.

#![allow(unreachable_pub)]

mod listener;
mod steps_in;
mod take_over;

use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Real-time audio on two cores: at most two calls' tests at once (as the voice suite).
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub async fn slot() -> tokio::sync::SemaphorePermit<'static> {
    SLOTS
        .acquire()
        .await
        .expect("the semaphore is never closed")
}

/// A valid New York number for `i`.
pub fn number(i: u32) -> String {
    format!("+1212400{i:04}")
}

/// The rig, with silence timers long enough that the agent never re-prompts or hangs up
/// while a test steps in.
pub async fn rig(db: sqlx::PgPool) -> VoiceRig {
    // `RUST_LOG=agent_worker=debug` shows the worker's side of a failing test.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    watch_stalls();
    let options = VoiceOptions {
        worker: Box::new(|config| {
            config.pipeline.silence_timeout_ms = 30_000;
            // Everything here (worker, control plane, both emulators) shares the test's one
            // thread, which a loaded 2-core machine stalls for up to half a second; the
            // emulated phone then catches up at once and plays the agent's lead dry. A
            // second of lead outlasts those stalls (the product's 200 ms is for a worker
            // that owns its cores).
            config.pipeline.pacer_lead_ms = 1_000;
        }),
        ..VoiceOptions::default()
    };
    VoiceRig::start(db, options).await.unwrap()
}

/// A call in progress.
pub struct LiveCall {
    pub id: String,
    /// The Twilio emulator's call sid.
    pub sid: String,
}

/// Dials `phone` (scripted with `script`) in a one-contact campaign and waits until the
/// call is in progress.
pub async fn dial(rig: &VoiceRig, phone: &str, script: CalleeScript) -> LiveCall {
    rig.twilio.register_callee(phone, script);
    let assistant = json!({
        "name": "Ava",
        "systemPrompt": "You are Ava from Acme. Keep answers short.",
        "firstMessage": "Hi, this is Ava, an AI assistant from Acme.",
        "maxDurationSec": 120,
    });
    let settings = json!({"maxAttempts": 1,
        "schedule": {"timezone": "America/New_York",
            "callingDays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "startHour": 0, "endHour": 24},
        "allowOutsideLegalHours": true});
    let contacts = vec![json!({"phone": phone, "timezone": "America/New_York"})];
    let campaign = rig
        .start_campaign_with(contacts, assistant, settings)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let page = rig
            .get(&format!("/api/v1/calls?campaignId={campaign}"))
            .await
            .unwrap();
        if let Some(call) = page["data"]
            .as_array()
            .and_then(|calls| calls.first())
            .filter(|c| c["status"] == "in_progress")
        {
            return LiveCall {
                id: call["id"].as_str().unwrap().to_string(),
                sid: call["providerCallId"].as_str().unwrap().to_string(),
            };
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no live call: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a control; panics unless it was accepted.
pub async fn control(rig: &VoiceRig, call: &LiveCall, body: Value) {
    let (status, answer) = rig
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/calls/{}/control", call.id),
            Some(body.clone()),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body} -> {answer}");
}

/// Waits until the callee's ear has decoded an utterance containing `text`.
pub async fn wait_to_hear(rig: &VoiceRig, call: &LiveCall, text: &str) {
    rig.twilio
        .wait_until(&call.sid, Duration::from_secs(30), text, |report| {
            report.heard_texts().iter().any(|h| h.contains(text))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", ear_story(rig, call)));
}

/// What the callee's phone went through, for a failure message: every utterance heard
/// (or garbled), underruns, clears and the call's timeline.
pub fn ear_story(rig: &VoiceRig, call: &LiveCall) -> String {
    let Some(report) = rig.twilio.call(&call.sid) else {
        return "no such call".into();
    };
    let mut story = String::new();
    for heard in &report.heard {
        story.push_str(&format!(
            "heard {}-{} ms: {:?} {:?}\n",
            heard.start_ms, heard.end_ms, heard.text, heard.error
        ));
    }
    story.push_str(&format!("underruns at {:?} ms\n", report.underruns_ms));
    for stream in &report.streams {
        story.push_str(&format!("clears {:?}\n", stream.clears));
    }
    for event in &report.timeline {
        story.push_str(&format!(
            "{} {}\n",
            event.at.format("%H:%M:%S%.3f"),
            event.what
        ));
    }
    story
}

/// The call once its worker has reported why it ended.
pub async fn ended_call(rig: &VoiceRig, call: &LiveCall) -> Value {
    let started = Instant::now();
    loop {
        let view = rig
            .get(&format!("/api/v1/calls/{}", call.id))
            .await
            .unwrap();
        if !view["endReason"].is_null() && !view["endedAt"].is_null() {
            return view;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not ended: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The call's supervision audit as `(action, ok)`.
pub async fn audit(rig: &VoiceRig, call: &LiveCall) -> Vec<Value> {
    let list = rig
        .get(&format!("/api/v1/calls/{}/supervision", call.id))
        .await
        .unwrap();
    list["data"].as_array().cloned().unwrap_or_default()
}

/// Reports (to the test's output) each time the test's thread ran a 10 ms timer more
/// than 100 ms late. The call's every part (worker, control plane, emulators) shares that
/// one thread, so a stall there is a stall of the call: its audio arrives in a burst.
fn watch_stalls() {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    tokio::spawn(async move {
        let started = Instant::now();
        let mut clock = tokio::time::interval(Duration::from_millis(10));
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Instant::now();
        loop {
            clock.tick().await;
            let now = Instant::now();
            let late = now
                .duration_since(last)
                .saturating_sub(Duration::from_millis(10));
            if late > Duration::from_millis(100) {
                eprintln!(
                    "stall: {test}: the test's thread ran {} ms late at {:.1} s ({})",
                    late.as_millis(),
                    now.duration_since(started).as_secs_f64(),
                    chrono::Utc::now().format("%H:%M:%S%.3f")
                );
            }
            last = now;
        }
    });
}
