//! The call life cycle over REST and status callbacks: ordering, signatures, pickups, AMD,
//! CPS queueing, errors and delivery faults.

use crate::support::Command;
use crate::{create, setup, statuses, streamed_call, update, SECS};
use outbound_tests::twilio::{signature, CallbackDelivery, CalleeScript, Emulator, EmulatorConfig};
use serde_json::Value;
use tokio::time::{sleep, Duration, Instant};

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
