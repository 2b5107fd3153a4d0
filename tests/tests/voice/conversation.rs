//! A real conversation: the callee hears the first message, says a token, hears the agent
//! echo it (the LLM emulator's reply depends on what the STT emulator really decoded),
//! says goodbye, and the agent ends the call. Transcript, outcome, cost, latency and a
//! stereo recording land in the control plane.

use crate::{assistant, call_to, number, run_campaign, transcript};
use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::speech_code::{DecodeEvent, Decoder};
use outbound_tests::twilio::CalleeScript;
use sqlx::PgPool;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_callee_and_the_agent_hold_a_conversation_end_to_end(db: PgPool) {
    let _slot = crate::slot(1).await;
    let rig = VoiceRig::start(db, VoiceOptions::default()).await.unwrap();
    let (talker, refuser) = (number(1), number(2));
    rig.twilio.register_callee(
        &talker,
        CalleeScript::answer_after(200)
            .reply(300, "my code is token-17")
            .reply(300, "thanks goodbye"),
    );
    rig.twilio.register_callee(
        &refuser,
        CalleeScript::answer_after(200).reply(300, "I am not interested"),
    );
    let calls = run_campaign(&rig, &[talker.clone(), refuser.clone()], assistant()).await;

    let call = call_to(&calls, &talker);
    assert_eq!(call["status"], "completed", "{call}");
    let sid = call["providerCallId"].as_str().unwrap();
    let report = rig.twilio.call(sid).unwrap();
    let heard = report.heard_texts();
    assert_eq!(
        heard.first().map(String::as_str),
        Some("Hi, this is Ava, an AI assistant from Acme.")
    );
    assert!(
        heard.iter().any(|h| h.contains("token-17")),
        "the callee never heard its token echoed: {heard:?}"
    );
    assert!(
        heard.last().unwrap().to_lowercase().contains("goodbye"),
        "{heard:?}"
    );
    assert!(
        report.underruns_ms.is_empty(),
        "gaps in the agent's audio: {:?}",
        report.underruns_ms
    );
    assert_eq!(
        report.ended_by.as_deref(),
        Some("twiml"),
        "the agent ends the call"
    );

    // The reply to token-17 answered the turn that said token-17.
    let llm = rig.providers.report().llm;
    let echo = llm
        .iter()
        .find(|r| r.reply.contains("token-17"))
        .expect("an LLM reply echoing the token");
    assert_eq!(echo.last_user_text.as_deref(), Some("my code is token-17"));

    let lines = transcript(&rig, call).await;
    assert!(
        lines.contains(&("callee".into(), "my code is token-17".into())),
        "{lines:?}"
    );
    assert!(lines
        .iter()
        .any(|(who, text)| who == "agent" && text.contains("token-17")));
    assert!(call["costCents"].as_f64().unwrap() > 0.0, "{call}");
    for kind in ["stt", "llm", "tts"] {
        assert!(
            call["costBreakdown"][kind].is_object(),
            "{}",
            call["costBreakdown"]
        );
    }
    let turns = call["latency"]["turns"]
        .as_array()
        .expect("per-turn latency");
    assert!(!turns.is_empty());
    assert!(turns[0]["endOfSpeechToAudioMs"].as_f64().unwrap() > 0.0);
    assert_eq!(call["endReason"], "agent_ended");

    // The recording: stereo, the callee's words on the left, the agent's on the right.
    let id = call["id"].as_str().unwrap();
    let recordings = rig
        .get(&format!("/api/v1/calls/{id}/recordings"))
        .await
        .unwrap();
    let recording = &recordings["data"][0];
    assert_eq!(recording["channels"], 2);
    let wav = rig
        .client
        .get(format!(
            "{}/api/v1/calls/{id}/recordings/{}/audio",
            rig.base,
            recording["id"].as_str().unwrap()
        ))
        .bearer_auth(&rig.token)
        .send()
        .await
        .unwrap();
    assert_eq!(wav.status(), 200);
    assert_eq!(wav.headers()["content-type"], "audio/wav");
    let bytes = wav.bytes().await.unwrap();
    let (left, right) = stereo_channels(&bytes);
    assert!(decode_all(&left).iter().any(|t| t == "my code is token-17"));
    assert!(decode_all(&right)
        .iter()
        .any(|t| t == "Hi, this is Ava, an AI assistant from Acme."));

    let call = call_to(&calls, &refuser);
    assert_eq!(call["outcome"], "not_interested", "{call}");
}

/// The two channels of a 16-bit stereo WAV.
fn stereo_channels(wav: &[u8]) -> (Vec<i16>, Vec<i16>) {
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    let mut at = 12;
    let (mut channels, mut data) = (0u16, &wav[0..0]);
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let len = u32::from_le_bytes(wav[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &wav[at + 8..(at + 8 + len).min(wav.len())];
        if id == b"fmt " {
            channels = u16::from_le_bytes([body[2], body[3]]);
            assert_eq!(u32::from_le_bytes(body[4..8].try_into().unwrap()), 8000);
        } else if id == b"data" {
            data = body;
        }
        at += 8 + len + (len & 1);
    }
    assert_eq!(channels, 2);
    let samples: Vec<i16> = data
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (left, right)
}

/// Every utterance decoded from 8 kHz audio.
fn decode_all(samples: &[i16]) -> Vec<String> {
    let mut decoder = Decoder::new(8000);
    let mut events = decoder.push(samples);
    events.extend(decoder.finish());
    events
        .into_iter()
        .filter_map(|e| match e {
            DecodeEvent::Utterance(u) => Some(u.text),
            _ => None,
        })
        .collect()
}
