//! The README's run command (`./dev run`): the whole platform on one machine.
//!
//! With no accounts configured it starts the control plane (engine included), an agent
//! worker, the Twilio emulator and the provider emulators, runs a small campaign against
//! scripted callees (a talker, a refuser, a callback, a do-not-call, a voicemail, a busy
//! line), and prints each call with its transcript, outcome, latency and cost. Then it
//! keeps serving until Ctrl-C so the API (`/api/v1/docs`) can be explored; the emulated
//! Twilio account owns the README tour's number, so the tour's `POST /trunks/twilio`
//! works against it.
//!
//! Each provider whose key is in the environment is used for real instead of its
//! emulator: `DEEPGRAM_API_KEY`, `OPENAI_API_KEY` (and `OPENAI_BASE_URL`),
//! `ELEVENLABS_API_KEY`. Real Twilio needs `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`,
//! `PUBLIC_URL` (where Twilio reaches the control plane), `WORKER_MEDIA_URL` (the
//! worker's `wss://.../twilio/media` as Twilio reaches it), `DEMO_FROM` (your Twilio
//! number) and `DEMO_TO` (comma-separated numbers to call).

use anyhow::Context;

/// The number the README's tour puts on its trunks.
const TOUR_NUMBER: &str = "+14155550100";
use outbound_tests::providers::ProviderConfig;
use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The simulated callees: (number, who they are, script).
fn callees() -> Vec<(String, &'static str, CalleeScript)> {
    vec![
        (
            "+12125550101".into(),
            "talks, gives an order number, says goodbye",
            CalleeScript::answer_after(1_200)
                .reply(400, "yes I am interested")
                .reply(400, "my order number is order-1042")
                .reply(400, "great thanks goodbye"),
        ),
        (
            "+12125550102".into(),
            "not interested",
            CalleeScript::answer_after(800).reply(400, "sorry I am not interested"),
        ),
        (
            "+12125550103".into(),
            "busy now, asks for a callback",
            CalleeScript::answer_after(1_500)
                .reply(400, "I am driving, call me back tomorrow")
                .reply(400, "ok bye"),
        ),
        (
            "+12125550104".into(),
            "asks not to be called again",
            CalleeScript::answer_after(600).reply(400, "please do not call me again"),
        ),
        (
            "+12125550105".into(),
            "voicemail",
            CalleeScript::voicemail(
                "Hi, you have reached Sam. Please leave a message after the tone.",
            )
            .ring(2_000),
        ),
        (
            "+12125550106".into(),
            "busy line",
            CalleeScript::busy().ring(1_000),
        ),
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let database_url =
        env("DATABASE_URL").context("DATABASE_URL must be set (./dev run sets it)")?;
    let db = PgPoolOptions::new()
        .max_connections(10)
        .connect(&database_url)
        .await
        .context("connecting to PostgreSQL")?;
    control_plane::app::MIGRATOR.run(&db).await?;

    let real_twilio = env("TWILIO_ACCOUNT_SID").is_some();
    let mut used = Vec::new();
    let options = VoiceOptions {
        // Latencies like real services', so the printed figures mean something.
        providers: ProviderConfig::default()
            .with_llm_latency_ms(350, 25)
            .with_tts_latency(150, 4.0)
            .with_stt_delay_ms(30),
        worker: Box::new(|config| {
            let p = &mut config.providers;
            if let Some(key) = env("DEEPGRAM_API_KEY") {
                p.deepgram.base_url = "https://api.deepgram.com".into();
                p.deepgram.api_key = Some(SecretString::from(key));
            }
            if let Some(key) = env("OPENAI_API_KEY") {
                p.openai.base_url =
                    env("OPENAI_BASE_URL").unwrap_or_else(|| "https://api.openai.com/v1".into());
                p.openai.api_key = Some(SecretString::from(key));
            }
            if let Some(key) = env("ELEVENLABS_API_KEY") {
                p.elevenlabs.base_url = "https://api.elevenlabs.io".into();
                p.elevenlabs.api_key = Some(SecretString::from(key));
            }
        }),
        control_plane: Box::new(move |settings| {
            if real_twilio {
                settings.twilio.base_url = "https://api.twilio.com".into();
                settings.twilio.account_sid = env("TWILIO_ACCOUNT_SID");
                settings.twilio.auth_token = env("TWILIO_AUTH_TOKEN").map(SecretString::from);
                if let Some(url) = env("PUBLIC_URL") {
                    settings.server.public_url = url;
                }
                if let Some(url) = env("WORKER_MEDIA_URL") {
                    settings.twilio.media_stream_url = url;
                }
            }
        }),
        worker_process: false,
    };
    for (service, key) in [
        ("Twilio", "TWILIO_ACCOUNT_SID"),
        ("Deepgram", "DEEPGRAM_API_KEY"),
        ("OpenAI", "OPENAI_API_KEY"),
        ("ElevenLabs", "ELEVENLABS_API_KEY"),
    ] {
        let real = env(key).is_some();
        used.push(format!(
            "{service}: {}",
            if real { "real" } else { "emulator" }
        ));
    }
    let email = format!("demo-{}@example.com", uuid::Uuid::new_v4().simple());
    let rig = VoiceRig::start_as(db, options, &email).await?;
    println!(
        "control plane  {}  (API docs at {}/api/v1/docs, metrics at {}/metrics)",
        rig.base, rig.base, rig.base
    );
    let worker_base = rig
        .media_url
        .replacen("ws://", "http://", 1)
        .trim_end_matches("/twilio/media")
        .to_string();
    println!(
        "agent worker   {}  (metrics at {worker_base}/metrics)",
        rig.media_url
    );
    println!("services       {}", used.join(", "));
    if !real_twilio {
        println!(
            "twilio         {}  (emulated; /_emulator/... calls and texts your numbers)",
            rig.twilio.base_url()
        );
    }
    // The rig registered the demo organization with the rig's password (rig/api.rs).
    println!(
        "console        {}/  (sign in as {email} / rig-password, or register your own organization)",
        rig.base
    );

    let (numbers, from) = if real_twilio {
        let to = env("DEMO_TO").context("with real Twilio set DEMO_TO (numbers to call)")?;
        let from = env("DEMO_FROM").context("with real Twilio set DEMO_FROM (your number)")?;
        (
            to.split(',')
                .map(|n| n.trim().to_string())
                .collect::<Vec<_>>(),
            from,
        )
    } else {
        // The README tour provisions a Twilio SIP trunk with this number: an account can
        // only put numbers it owns on a trunk.
        rig.twilio.own_number(TOUR_NUMBER);
        let mut numbers = Vec::new();
        println!("\nsimulated callees:");
        for (number, who, script) in callees() {
            println!("  {number}  {who}");
            rig.twilio.register_callee(&number, script);
            numbers.push(number);
        }
        (numbers, "+12125550100".to_string())
    };
    let campaign = start_demo_campaign(&rig, &numbers, &from).await?;
    println!(
        "\ncampaign {campaign} started; calling {} numbers...\n",
        numbers.len()
    );
    // Every number dialed once and its call over (a callback the callee asked for is
    // scheduled for tomorrow, so the campaign itself stays open).
    let calls = wait_for_calls(&rig, &campaign, numbers.len(), Duration::from_secs(300)).await?;
    for call in calls.iter().rev() {
        print_call(&rig, call).await?;
    }
    let status = rig
        .get(&format!("/api/v1/campaigns/{campaign}/status"))
        .await?;
    println!("\ncampaign status: {status}");
    if env("DEMO_EXIT").is_some() {
        return Ok(());
    }
    println!("\nEverything keeps running; Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn wait_for_calls(
    rig: &VoiceRig,
    campaign: &str,
    count: usize,
    limit: Duration,
) -> anyhow::Result<Vec<Value>> {
    let started = std::time::Instant::now();
    loop {
        let page = rig
            .get(&format!("/api/v1/calls?campaignId={campaign}&perPage=100"))
            .await?;
        let calls = page["data"].as_array().cloned().unwrap_or_default();
        // Over: ended, and if answered, its worker's last report (why it ended) is in.
        let over = calls
            .iter()
            .filter(|c| !c["endedAt"].is_null())
            .filter(|c| c["answeredAt"].is_null() || !c["endReason"].is_null())
            .count();
        if calls.len() >= count && over == calls.len() {
            return Ok(calls);
        }
        anyhow::ensure!(
            started.elapsed() < limit,
            "calls still going after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn start_demo_campaign(
    rig: &VoiceRig,
    numbers: &[String],
    from: &str,
) -> anyhow::Result<String> {
    let assistant = json!({
        "name": "Ava (demo)",
        "systemPrompt": "You are Ava, a friendly assistant calling for Acme about a recent order. \
            Keep every answer to one or two short sentences. Use the tools to record the outcome, \
            schedule callbacks, honour do-not-call requests and end the call politely.",
        "firstMessage": "Hi, this is Ava, an AI assistant from Acme, calling about your recent order.",
        "voicemailMessage": "Hi, this is Ava from Acme. Please call us back about your order. Goodbye.",
        "maxDurationSec": 120,
    });
    let contacts: Vec<Value> = numbers
        .iter()
        .map(|n| json!({"phone": n, "timezone": "America/New_York"}))
        .collect();
    rig.start_campaign_with(
        contacts,
        assistant,
        json!({"name": "Demo campaign", "maxAttempts": 1, "allowOutsideLegalHours": true,
               "trunk": {"numbers": [from]},
               "schedule": {"timezone": "America/New_York",
                   "callingDays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                   "startHour": 0, "endHour": 24}}),
    )
    .await
}

async fn print_call(rig: &VoiceRig, call: &Value) -> anyhow::Result<()> {
    let id = call["id"].as_str().unwrap_or_default();
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| "-".into());
    println!(
        "== {}  status {}  outcome {}  ended {}  {}s  cost {:.2}c",
        text(&call["to"]),
        text(&call["status"]),
        text(&call["outcome"]),
        text(&call["endReason"]),
        call["durationSec"].as_i64().unwrap_or_default(),
        call["costCents"].as_f64().unwrap_or_default(),
    );
    let latency = &call["latency"]["endOfSpeechToAudioMs"];
    if latency.is_object() {
        println!(
            "   turn latency (end of callee speech -> first agent audio): p50 {} ms, max {} ms over {} turns",
            latency["p50"], latency["max"], latency["count"]
        );
    }
    if env("DEMO_VERBOSE").is_some() {
        // What the emulated phone did, on its own clock: said, heard, cleared.
        if let Some(report) = call["providerCallId"]
            .as_str()
            .and_then(|sid| rig.twilio.call(sid))
        {
            let started = report.answered_at.unwrap_or(report.created_at);
            for event in &report.timeline {
                let at = (event.at - started).num_milliseconds() as f64 / 1000.0;
                println!("   phone {at:>6.2}s {}", event.what);
            }
        }
    }
    let transcript = rig.get(&format!("/api/v1/calls/{id}/transcript")).await?;
    for entry in transcript["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        println!(
            "   {:>6.1}s {:<6} {}",
            entry["startMs"].as_f64().unwrap_or_default() / 1000.0,
            text(&entry["speaker"]),
            text(&entry["text"])
        );
    }
    Ok(())
}
