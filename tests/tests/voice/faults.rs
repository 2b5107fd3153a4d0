//! Providers failing mid-call: the call falls back, or ends politely; never silence.

use crate::{assistant, number, run_one};
use outbound_tests::providers::{Fault, ProviderConfig, Service};
use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use sqlx::PgPool;

const APOLOGY: &str = "Sorry, I am having technical trouble. We will call you back. Goodbye.";

fn talker() -> CalleeScript {
    patient_talker(300)
}

/// A callee who replies `pause_ms` after the agent goes quiet.
fn patient_talker(pause_ms: u64) -> CalleeScript {
    CalleeScript::answer_after(200)
        .reply(pause_ms, "my code is token-21")
        .reply(pause_ms, "goodbye")
        .hang_up_after(40_000)
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_dropped_stt_connection_is_reopened_and_the_call_goes_on(db: PgPool) {
    let _slot = crate::slot(1).await;
    let options = VoiceOptions {
        providers: ProviderConfig::instant()
            .with_fault(Fault::drop_after(Service::Stt, 1_000).times(1)),
        ..VoiceOptions::default()
    };
    let rig = VoiceRig::start(db, options).await.unwrap();
    let phone = number(30);
    let (call, report) = run_one(&rig, &phone, talker(), assistant()).await;
    assert!(
        report.heard_texts().iter().any(|t| t.contains("token-21")),
        "{:?}",
        report.heard_texts()
    );
    // A session that dies young is replaced by the next provider in the chain (Whisper);
    // an older one by the same provider again. Either way the call went on hearing.
    let report = rig.providers.report();
    assert_eq!(report.stt[0].end.as_deref(), Some("fault_drop"));
    assert!(
        report.stt.len() >= 2 || !report.whisper.is_empty(),
        "no STT after the drop: {:?}",
        report.stt
    );
    assert_eq!(call["endReason"], "agent_ended");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_failing_elevenlabs_falls_back_to_openai_tts(db: PgPool) {
    let _slot = crate::slot(1).await;
    let options = VoiceOptions {
        providers: ProviderConfig::instant().with_fault(Fault::status(Service::TtsElevenlabs, 500)),
        worker: Box::new(|config| {
            config.providers.fallback.tts = vec!["elevenlabs".into(), "openai".into()];
        }),
        ..VoiceOptions::default()
    };
    let rig = VoiceRig::start(db, options).await.unwrap();
    let phone = number(31);
    // Each synthesis waits for ElevenLabs' 500 before OpenAI answers. In a CI run where
    // other builds shared the two cores, a callee that replied 300 ms after a pause in the
    // first message most likely talked over it (barge-in) and never heard it whole; this
    // test is about the fallback, so the callee waits a second.
    let (_, report) = run_one(&rig, &phone, patient_talker(1000), assistant()).await;
    let heard = report.heard_texts();
    // OpenAI's 24 kHz PCM went through the worker's resampler and still decodes.
    assert_eq!(
        heard.first().map(String::as_str),
        Some("Hi, this is Ava, an AI assistant from Acme."),
        "{heard:?}"
    );
    assert!(heard.iter().any(|t| t.contains("token-21")), "{heard:?}");
    let providers: Vec<String> = rig
        .providers
        .report()
        .tts
        .iter()
        .map(|t| t.provider.clone())
        .collect();
    assert!(providers.iter().any(|p| p == "openai"), "{providers:?}");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_stalled_llm_ends_the_call_with_an_apology(db: PgPool) {
    let _slot = crate::slot(1).await;
    let options = VoiceOptions {
        providers: ProviderConfig::instant().with_fault(Fault::stall(Service::Llm)),
        worker: Box::new(|config| {
            config.providers.timeouts.llm_first_token_ms = 1_500;
        }),
        ..VoiceOptions::default()
    };
    let rig = VoiceRig::start(db, options).await.unwrap();
    let phone = number(32);
    let (call, report) = run_one(&rig, &phone, talker(), assistant()).await;
    assert_eq!(call["endReason"], "llm_failed", "{call}");
    let heard = report.heard_texts();
    assert_eq!(heard.last().map(String::as_str), Some(APOLOGY), "{heard:?}");
    assert_eq!(
        report.ended_by.as_deref(),
        Some("twiml"),
        "the agent hung up, not the callee"
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn with_no_working_tts_the_call_ends_at_once_instead_of_staying_silent(db: PgPool) {
    let _slot = crate::slot(1).await;
    let options = VoiceOptions {
        providers: ProviderConfig::instant()
            .with_fault(Fault::status(Service::TtsElevenlabs, 503))
            .with_fault(Fault::status(Service::TtsOpenai, 503)),
        worker: Box::new(|config| {
            config.providers.fallback.tts = vec!["elevenlabs".into(), "openai".into()];
        }),
        ..VoiceOptions::default()
    };
    let rig = VoiceRig::start(db, options).await.unwrap();
    let phone = number(33);
    let (call, report) = run_one(&rig, &phone, talker(), assistant()).await;
    assert_eq!(call["endReason"], "tts_failed", "{call}");
    assert_eq!(report.ended_by.as_deref(), Some("twiml"));
    assert!(
        report.duration_s().unwrap() <= 10,
        "the callee waited in silence"
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn speech_the_stt_makes_no_words_of_still_ends_in_a_reprompt_not_silence(db: PgPool) {
    let _slot = crate::slot(1).await;
    let options = VoiceOptions {
        worker: Box::new(|config| {
            config.pipeline.silence_timeout_ms = 2_000;
        }),
        ..VoiceOptions::default()
    };
    let rig = VoiceRig::start(db, options).await.unwrap();
    let phone = number(34);
    // After the first message the callee makes a sound the STT finals as empty, then says
    // nothing: the silence counts from the sound's end, as if it had not been there.
    let script = CalleeScript::answer_after(200)
        .mumble(1_500)
        .hang_up_after(30_000);
    let (call, report) = run_one(&rig, &phone, script, assistant()).await;
    let heard = report.heard_texts();
    assert!(
        heard.iter().any(|t| t == "Are you still there?"),
        "no reprompt after the mumble: {heard:?}"
    );
    assert_eq!(call["endReason"], "silence", "{call}");
    assert_eq!(report.ended_by.as_deref(), Some("twiml"));
}
