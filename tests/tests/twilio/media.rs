//! The Media Stream: protocol messages, playout at the callee's ear, marks, clear,
//! turn-taking, barge-in and redirects.

use crate::support::Command;
use crate::{setup, statuses, streamed_call, update, SECS};
use outbound_tests::speech_code;
use outbound_tests::twilio::CalleeScript;
use tokio::time::{sleep, Duration, Instant};

#[tokio::test]
async fn the_stream_carries_connected_start_media_and_stop_when_rest_hangs_up() {
    let (emulator, product) = setup().await;
    let sid = streamed_call(&emulator, &product, "+15551000006").await;
    product
        .wait_agent("media", |log| log.messages.len() > 10)
        .await;
    let (status, body) = update(&emulator, &sid, &[("Status", "completed")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "completed");
    product
        .wait_agent("stop", |log| {
            log.messages.iter().any(|m| m["event"] == "stop")
        })
        .await;

    let events = product.events();
    assert_eq!(&events[..2], ["connected", "start"]);
    assert_eq!(events.last().map(String::as_str), Some("stop"));
    assert!(
        product.agent(|log| log.signature_ok) == Some(true),
        "upgrade signature invalid"
    );
    let (start, media) = product.agent(|log| (log.messages[1].clone(), log.messages[2].clone()));
    assert_eq!(start["sequenceNumber"], "1");
    assert_eq!(start["start"]["callSid"], sid.as_str());
    assert_eq!(start["start"]["accountSid"], emulator.account_sid());
    assert_eq!(start["start"]["tracks"], serde_json::json!(["inbound"]));
    assert_eq!(start["start"]["mediaFormat"]["encoding"], "audio/x-mulaw");
    assert_eq!(start["start"]["mediaFormat"]["sampleRate"], 8000);
    assert_eq!(start["start"]["customParameters"]["callId"], "call-7");
    assert_eq!(start["start"]["customParameters"]["token"], "tok-abc");
    assert!(start["streamSid"]
        .as_str()
        .is_some_and(|s| s.starts_with("MZ")));
    assert_eq!(media["sequenceNumber"], "2");
    assert_eq!(media["media"]["chunk"], "1");
    assert_eq!(media["media"]["timestamp"], "0");
    assert_eq!(media["media"]["track"], "inbound");
    let payload = media["media"]["payload"].as_str().expect("payload");
    assert_eq!(base64_len(payload), 160);

    let report = emulator
        .wait_for_call_end(&sid, SECS(5))
        .await
        .expect("ended");
    assert_eq!(report.ended_by.as_deref(), Some("api"));
    assert_eq!(report.streams[0].end.as_deref(), Some("hangup_requested"));
    assert_eq!(
        statuses(&product).last().map(String::as_str),
        Some("completed")
    );
}

fn base64_len(payload: &str) -> usize {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map(|b| b.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn agent_speech_is_heard_after_playout_and_its_mark_comes_back_only_then() {
    let (emulator, product) = setup().await;
    let sid = streamed_call(&emulator, &product, "+15551000007").await;
    product
        .wait_agent("start", |log| log.messages.len() >= 2)
        .await;
    let text = "hello token-4821";
    let audio_ms = speech_code::utterance_samples(text.len(), 8000) as u128 / 8;
    let sent = Instant::now();
    product.send(Command::Speak(text.into())).await;
    product.send(Command::Mark("greeting".into())).await;
    product
        .wait_agent("the mark", |log| !log.mark_echoes.is_empty())
        .await;
    let echoed_after = product.agent(|log| log.mark_echoes[0].1 - sent).as_millis();
    assert!(
        echoed_after + 40 >= audio_ms,
        "mark echoed after {echoed_after} ms of {audio_ms} ms audio"
    );
    let report = emulator.call(&sid).expect("call");
    assert_eq!(report.heard_texts(), [text]);
    let mark = &report.streams[0].marks[0];
    assert!(!mark.cleared);
    assert!(mark.echoed_ms.expect("echoed") - mark.received_ms + 40 >= audio_ms as u64);
    assert!(report.underruns_ms.is_empty(), "{:?}", report.underruns_ms);
    let ear = emulator.ear_audio(&sid).expect("ear");
    assert!(ear.iter().any(|s| s.unsigned_abs() > 1000));
    product.send(Command::Close).await;
    emulator
        .wait_for_call_end(&sid, SECS(5))
        .await
        .expect("ends");
}

#[tokio::test]
async fn clear_drops_buffered_audio_and_returns_pending_marks_at_once() {
    let (emulator, product) = setup().await;
    let sid = streamed_call(&emulator, &product, "+15551000008").await;
    product
        .wait_agent("start", |log| log.messages.len() >= 2)
        .await;
    let long = "this is a long sentence that will be interrupted by the callee";
    product.send(Command::Speak(long.into())).await;
    product.send(Command::Mark("long".into())).await;
    sleep(Duration::from_millis(400)).await;
    let cleared_at = Instant::now();
    product.send(Command::Clear).await;
    product
        .wait_agent("the mark", |log| !log.mark_echoes.is_empty())
        .await;
    let echo_delay = product.agent(|log| log.mark_echoes[0].1 - cleared_at);
    assert!(
        echo_delay < Duration::from_millis(200),
        "mark came back {echo_delay:?} after clear"
    );
    let report = emulator.call(&sid).expect("call");
    let stream = &report.streams[0];
    assert!(stream.marks[0].cleared);
    assert!(stream.clears[0].dropped_ms > 2000, "{:?}", stream.clears);
    sleep(Duration::from_millis(200)).await;
    let report = emulator.call(&sid).expect("call");
    assert!(
        report.heard_texts().is_empty(),
        "cut-off speech decoded: {:?}",
        report.heard
    );
    product.send(Command::Close).await;
    emulator
        .wait_for_call_end(&sid, SECS(5))
        .await
        .expect("ends");
}

#[tokio::test]
async fn the_callee_answers_the_agent_in_turn_and_presses_digits() {
    let (emulator, product) = setup().await;
    emulator.register_callee(
        "+15551000009",
        CalleeScript::answer()
            .reply(200, "yes I can talk")
            .press(100, "12#"),
    );
    let sid = streamed_call(&emulator, &product, "+15551000009").await;
    product
        .wait_agent("start", |log| log.messages.len() >= 2)
        .await;
    sleep(Duration::from_millis(300)).await;
    assert!(
        product.agent(|log| log.heard.is_empty()),
        "the callee spoke before its turn"
    );
    product.send(Command::Speak("hi there".into())).await;
    product
        .wait_agent("the reply", |log| log.heard == ["yes I can talk"])
        .await;
    product
        .wait_agent("three digits", |log| {
            log.messages.iter().filter(|m| m["event"] == "dtmf").count() == 3
        })
        .await;
    let digits: String = product.agent(|log| {
        log.messages
            .iter()
            .filter(|m| m["event"] == "dtmf")
            .filter_map(|m| m["dtmf"]["digit"].as_str().map(str::to_string))
            .collect()
    });
    assert_eq!(digits, "12#");
    let report = emulator.call(&sid).expect("call");
    let reply = &report.said[0];
    let agent_end = report.heard[0].end_ms;
    assert!(
        reply.start_ms >= agent_end + 200,
        "replied at {} before {agent_end}+200",
        reply.start_ms
    );
    product.send(Command::Close).await;
    emulator
        .wait_for_call_end(&sid, SECS(5))
        .await
        .expect("ends");
}

#[tokio::test]
async fn a_callee_talking_over_the_agent_records_how_long_the_agent_kept_going() {
    let (emulator, product) = setup().await;
    emulator.register_callee("+15551000010", CalleeScript::answer().say(600, "wait stop"));
    product.clear_on_callee_audio();
    let sid = streamed_call(&emulator, &product, "+15551000010").await;
    product
        .wait_agent("start", |log| log.messages.len() >= 2)
        .await;
    product
        .send(Command::Speak(
            "a very long monologue that goes on and on and on".into(),
        ))
        .await;
    let report = emulator
        .wait_until(&sid, SECS(5), "the barge-in to close", |r| {
            r.barge_ins
                .first()
                .is_some_and(|b| b.agent_stopped_ms.is_some())
        })
        .await
        .expect("barge-in recorded");
    let latency = report.barge_ins[0].latency_ms().expect("latency");
    assert!(latency <= 200, "agent kept talking {latency} ms");
    assert_eq!(report.barge_ins[0].text, "wait stop");
    product.send(Command::Close).await;
    emulator
        .wait_for_call_end(&sid, SECS(5))
        .await
        .expect("ends");
}

#[tokio::test]
async fn a_redirect_ends_the_stream_and_the_new_twiml_is_obeyed() {
    let (emulator, product) = setup().await;
    let sid = streamed_call(&emulator, &product, "+15551000012").await;
    product
        .wait_agent("start", |log| log.messages.len() >= 2)
        .await;
    let twiml = "<Response><Say>Transferring you</Say><Dial>+15559998888</Dial></Response>";
    let (status, _) = update(&emulator, &sid, &[("Twiml", twiml)]).await;
    assert_eq!(status, 200);
    product
        .wait_agent("stop", |log| {
            log.messages.iter().any(|m| m["event"] == "stop")
        })
        .await;
    let report = emulator
        .wait_for_call_end(&sid, SECS(10))
        .await
        .expect("ends");
    assert_eq!(report.twiml_audio, ["say:Transferring you"]);
    assert_eq!(report.transfers[0].to, "+15559998888");
    assert_eq!(report.streams[0].end.as_deref(), Some("redirected"));
    assert_eq!(report.twiml.len(), 2);
}

#[tokio::test]
async fn twiml_after_connect_runs_once_the_agent_closes_the_stream() {
    let (emulator, product) = setup().await;
    let twiml = format!(
        "<Response><Connect><Stream url=\"ws://{}/media\"/></Connect>\
         <Say>after the stream</Say></Response>",
        product.addr
    );
    let (status, body) = crate::create(
        &emulator,
        &[
            ("To", "+15551000019"),
            ("From", "+15550000000"),
            ("Twiml", &twiml),
        ],
    )
    .await;
    assert_eq!(status, 201);
    let sid = body["sid"].as_str().expect("sid").to_string();
    product
        .wait_agent("start", |log| log.messages.len() >= 2)
        .await;
    product.send(Command::Close).await;
    let report = emulator
        .wait_for_call_end(&sid, SECS(5))
        .await
        .expect("ends");
    assert_eq!(report.streams[0].end.as_deref(), Some("server_closed"));
    assert_eq!(report.twiml_audio, ["say:after the stream"]);
    assert_eq!(report.ended_by.as_deref(), Some("twiml"));
    assert!(
        !product.events().contains(&"stop".to_string()),
        "no stop after the agent closed"
    );
}
