//! The Twilio emulator driven the way the product will drive it: REST calls in, signed
//! webhooks and a Media Stream out, to a stand-in for the product's control plane and agent.

mod support;

use outbound_tests::speech_code;
use outbound_tests::twilio::{
    signature, CallbackDelivery, CalleeScript, Emulator, EmulatorConfig, EmulatorHandle,
};
use serde_json::Value;
use support::{Command, Product};
use tokio::time::{sleep, Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

async fn setup() -> (EmulatorHandle, Product) {
    let emulator = Emulator::start(EmulatorConfig::unlimited())
        .await
        .expect("start");
    let product = Product::start(emulator.auth_token()).await;
    (emulator, product)
}

async fn create(emulator: &EmulatorHandle, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(emulator.calls_url())
        .basic_auth(emulator.account_sid(), Some(emulator.auth_token()))
        .form(form)
        .send()
        .await
        .expect("emulator reachable");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn update(emulator: &EmulatorHandle, sid: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let url = emulator
        .calls_url()
        .replace("Calls.json", &format!("Calls/{sid}.json"));
    let response = reqwest::Client::new()
        .post(url)
        .basic_auth(emulator.account_sid(), Some(emulator.auth_token()))
        .form(form)
        .send()
        .await
        .expect("emulator reachable");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// A streamed call to `to` with every status event sent to the stand-in.
async fn streamed_call(emulator: &EmulatorHandle, product: &Product, to: &str) -> String {
    let status_url = product.url("/status");
    let twiml = product.stream_twiml();
    let (status, body) = create(
        emulator,
        &[
            ("To", to),
            ("From", "+15550000000"),
            ("Twiml", &twiml),
            ("StatusCallback", &status_url),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["sid"].as_str().expect("sid").to_string()
}

fn statuses(product: &Product) -> Vec<String> {
    product
        .hooks("/status")
        .iter()
        .map(|h| h.param("CallStatus").unwrap_or("?").to_string())
        .collect()
}

#[tokio::test]
async fn callbacks_and_the_twiml_fetch_arrive_signed_in_order_with_sequence_numbers() {
    let (emulator, product) = setup().await;
    emulator.register_callee("+15551000001", CalleeScript::answer_after(200));
    let (status, body) = create(
        &emulator,
        &[
            ("To", "+15551000001"),
            ("From", "+15550000000"),
            ("Url", &product.url("/twiml")),
            ("StatusCallback", &product.url("/status")),
            (
                "StatusCallbackEvent",
                "initiated ringing answered completed",
            ),
        ],
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["status"], "queued");
    assert_eq!(body["direction"], "outbound-api");
    let sid = body["sid"].as_str().expect("sid").to_string();
    assert!(sid.starts_with("CA") && sid.len() == 34, "{sid}");

    product
        .wait_agent("the stream to start", |log| !log.messages.is_empty())
        .await;
    sleep(Duration::from_millis(300)).await;
    product.send(Command::Close).await;
    let report = emulator
        .wait_for_call_end(&sid, SECS(10))
        .await
        .expect("ends");

    assert_eq!(
        statuses(&product),
        ["initiated", "ringing", "in-progress", "completed"]
    );
    let hooks = product.hooks("/status");
    assert!(
        hooks.iter().all(|h| h.signature_ok),
        "a status callback failed validation"
    );
    let seqs: Vec<&str> = hooks
        .iter()
        .map(|h| h.param("SequenceNumber").unwrap_or(""))
        .collect();
    assert_eq!(seqs, ["0", "1", "2", "3"]);
    let completed = &hooks[3];
    assert_eq!(completed.param("CallSid"), Some(sid.as_str()));
    assert_eq!(completed.param("AccountSid"), Some(emulator.account_sid()));
    assert_eq!(completed.param("Direction"), Some("outbound-api"));
    assert!(completed.param("CallDuration").is_some() && completed.param("Timestamp").is_some());
    let fetch = &product.hooks("/twiml")[0];
    assert!(fetch.signature_ok, "the TwiML fetch failed validation");
    assert_eq!(fetch.param("CallStatus"), Some("in-progress"));
    assert_eq!(report.status, "completed");
    assert_eq!(report.ended_by.as_deref(), Some("twiml"));
    assert!(report
        .callbacks
        .iter()
        .all(|c| c.response_status == Some(200)));
}

#[tokio::test]
async fn busy_no_answer_and_failed_callees_produce_their_final_callbacks() {
    let (emulator, product) = setup().await;
    emulator.register_callee("+15551000002", CalleeScript::busy());
    emulator.register_callee("+15551000003", CalleeScript::no_answer());
    emulator.register_callee("+15551000004", CalleeScript::failed());
    let mut sids = Vec::new();
    for to in ["+15551000002", "+15551000003", "+15551000004"] {
        let status_url = product.url("/status");
        let (status, body) = create(
            &emulator,
            &[
                ("To", to),
                ("From", "+15550000000"),
                ("Twiml", "<Response><Hangup/></Response>"),
                ("Timeout", "1"),
                ("StatusCallback", &status_url),
                (
                    "StatusCallbackEvent",
                    "initiated ringing answered completed",
                ),
            ],
        )
        .await;
        assert_eq!(status, 201);
        sids.push(body["sid"].as_str().expect("sid").to_string());
    }
    let mut finals = Vec::new();
    for sid in &sids {
        let report = emulator
            .wait_for_call_end(sid, SECS(10))
            .await
            .unwrap_or_else(|e| panic!("{e}: {:#?}", emulator.call(sid)));
        finals.push((report.callback_statuses(), report.answered_at.is_none()));
    }
    assert_eq!(finals[0], (vec!["initiated".into(), "busy".into()], true));
    assert_eq!(
        finals[1],
        (
            vec!["initiated".into(), "ringing".into(), "no-answer".into()],
            true
        )
    );
    assert_eq!(finals[2], (vec!["initiated".into(), "failed".into()], true));
    let busy = product
        .hooks("/status")
        .into_iter()
        .find(|h| h.param("CallStatus") == Some("busy"));
    assert_eq!(
        busy.and_then(|h| h.param("SipResponseCode").map(str::to_string))
            .as_deref(),
        Some("486")
    );
}

#[tokio::test]
async fn voicemail_greets_beeps_and_async_amd_reports_the_message_end() {
    let (emulator, product) = setup().await;
    emulator.register_callee(
        "+15551000005",
        CalleeScript::voicemail("please leave a message"),
    );
    let (twiml, amd_url) = (product.stream_twiml(), product.url("/amd"));
    let (_, body) = create(
        &emulator,
        &[
            ("To", "+15551000005"),
            ("From", "+15550000000"),
            ("Twiml", &twiml),
            ("MachineDetection", "DetectMessageEnd"),
            ("AsyncAmd", "true"),
            ("AsyncAmdStatusCallback", &amd_url),
        ],
    )
    .await;
    let sid = body["sid"].as_str().expect("sid").to_string();
    let deadline = Instant::now() + SECS(10);
    while product.hooks("/amd").is_empty() {
        assert!(Instant::now() < deadline, "no AMD callback");
        sleep(Duration::from_millis(20)).await;
    }
    let amd = &product.hooks("/amd")[0];
    assert!(amd.signature_ok);
    assert_eq!(amd.param("AnsweredBy"), Some("machine_end_beep"));
    let detection_ms: u64 = amd
        .param("MachineDetectionDuration")
        .and_then(|d| d.parse().ok())
        .expect("duration");
    assert!(
        detection_ms > 1500,
        "the beep comes after the greeting: {detection_ms} ms"
    );
    // The agent heard the greeting through the stream, then leaves its message.
    product
        .wait_agent("the greeting", |log| {
            log.heard == ["please leave a message"]
        })
        .await;
    product
        .send(Command::Speak("call us back on 4821".into()))
        .await;
    product.send(Command::Mark("message-done".into())).await;
    product
        .wait_agent("the message to play", |log| !log.mark_echoes.is_empty())
        .await;
    product.send(Command::Close).await;
    let report = emulator
        .wait_for_call_end(&sid, SECS(10))
        .await
        .expect("ends");
    assert_eq!(report.answered_by.as_deref(), Some("machine_end_beep"));
    assert_eq!(report.heard_texts(), ["call us back on 4821"]);
    assert!(report.timeline.iter().any(|e| e.what == "callee beep"));
}

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
async fn hanging_up_an_ended_call_is_a_20404() {
    let (emulator, product) = setup().await;
    emulator.register_callee("+15551000011", CalleeScript::answer().hang_up_after(300));
    let sid = streamed_call(&emulator, &product, "+15551000011").await;
    let report = emulator
        .wait_for_call_end(&sid, SECS(5))
        .await
        .expect("ends");
    assert_eq!(report.ended_by.as_deref(), Some("callee"));
    assert_eq!(report.streams[0].end.as_deref(), Some("callee_hung_up"));
    assert!(product.events().contains(&"stop".to_string()));
    let (status, body) = update(&emulator, &sid, &[("Status", "completed")]).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], 20404);
    assert_eq!(body["status"], 404);
    assert!(body["more_info"]
        .as_str()
        .is_some_and(|m| m.contains("20404")));
}

#[tokio::test]
async fn with_one_call_per_second_the_third_call_is_queued_about_two_seconds() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("start");
    let mut sids = Vec::new();
    for n in 0..3 {
        let to = format!("+1555200000{n}");
        let (status, body) = create(
            &emulator,
            &[
                ("To", &to),
                ("From", "+15550000000"),
                ("Twiml", "<Response><Hangup/></Response>"),
            ],
        )
        .await;
        assert_eq!((status, body["status"].as_str()), (201, Some("queued")));
        sids.push(body["sid"].as_str().expect("sid").to_string());
    }
    let mut dialed = Vec::new();
    for sid in &sids {
        let report = emulator
            .wait_for_call_end(sid, SECS(10))
            .await
            .expect("ends");
        dialed.push(report.dialed_at.expect("dialed"));
    }
    let third = (dialed[2] - dialed[0]).num_milliseconds();
    assert!(
        (1800..=2600).contains(&third),
        "third call dialled {third} ms after the first"
    );
}

#[tokio::test]
async fn rest_errors_come_in_twilios_format_with_its_codes() {
    let (emulator, _product) = setup().await;
    emulator.register_callee("+15553000001", CalleeScript::unreachable());
    let form = |to: &'static str| {
        vec![
            ("To", to),
            ("From", "+15550000000"),
            ("Twiml", "<Response/>"),
        ]
    };
    let (status, body) = create(&emulator, &form("555-0100")).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(21211)));
    let (status, body) = create(&emulator, &form("+15553000001")).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(21214)));
    assert_eq!(emulator.dial_count("+15553000001"), 1);
    emulator.fail_next_creates(1, 20429);
    let (status, body) = create(&emulator, &form("+15553000002")).await;
    assert_eq!((status, body["code"].as_u64()), (429, Some(20429)));
    let (status, _) = create(&emulator, &form("+15553000002")).await;
    assert_eq!(status, 201, "only the next create fails");
    let response = reqwest::Client::new()
        .post(emulator.calls_url())
        .basic_auth(emulator.account_sid(), Some("wrong"))
        .form(&form("+15553000003"))
        .send()
        .await
        .expect("reachable");
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["code"], 20003);
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
async fn callbacks_can_be_delivered_twice_or_out_of_order() {
    let (emulator, product) = setup().await;
    emulator.register_callee(
        "+15551000013",
        CalleeScript::answer()
            .hang_up_after(100)
            .deliver_callbacks(CallbackDelivery::Twice),
    );
    emulator.register_callee(
        "+15551000014",
        CalleeScript::answer()
            .hang_up_after(100)
            .deliver_callbacks(CallbackDelivery::Reordered),
    );
    let twice = streamed_call(&emulator, &product, "+15551000013").await;
    emulator
        .wait_for_call_end(&twice, SECS(5))
        .await
        .expect("ends");
    let reordered = streamed_call(&emulator, &product, "+15551000014").await;
    emulator
        .wait_for_call_end(&reordered, SECS(5))
        .await
        .expect("ends");
    let seqs = |sid: &str| -> Vec<String> {
        product
            .hooks("/status")
            .iter()
            .filter(|h| h.param("CallSid") == Some(sid))
            .map(|h| h.param("SequenceNumber").unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(seqs(&twice), ["0", "0", "1", "1", "2", "2", "3", "3"]);
    assert_eq!(seqs(&reordered), ["1", "0", "3", "2"]);
}

#[test]
fn the_emulator_signer_is_independent_and_matches_twilios_vector() {
    let params: Vec<(String, String)> = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(
        signature::sign("12345", url, &params),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
}
