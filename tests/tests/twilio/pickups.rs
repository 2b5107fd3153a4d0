//! How the callee picks up (or does not), answering machine detection and time limits.

use crate::support::Command;
use crate::{create, setup, SECS};
use outbound_tests::twilio::CalleeScript;
use tokio::time::{sleep, Duration, Instant};

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
async fn synchronous_amd_holds_the_twiml_fetch_until_it_knows_who_answered() {
    let (emulator, product) = setup().await;
    emulator.register_callee("+15551000015", CalleeScript::answer().amd_after(400));
    let (twiml_url, status_url) = (product.url("/twiml"), product.url("/status"));
    let (_, body) = create(
        &emulator,
        &[
            ("To", "+15551000015"),
            ("From", "+15550000000"),
            ("Url", &twiml_url),
            ("MachineDetection", "Enable"),
            ("StatusCallback", &status_url),
            ("StatusCallbackEvent", "answered completed"),
        ],
    )
    .await;
    let sid = body["sid"].as_str().expect("sid").to_string();
    product
        .wait_agent("the stream", |log| !log.messages.is_empty())
        .await;
    product.send(Command::Close).await;
    let report = emulator
        .wait_for_call_end(&sid, SECS(10))
        .await
        .expect("ends");
    let fetch = &product.hooks("/twiml")[0];
    assert_eq!(fetch.param("AnsweredBy"), Some("human"));
    let answered = &product.hooks("/status")[0];
    assert_eq!(answered.param("CallStatus"), Some("in-progress"));
    assert_eq!(answered.param("AnsweredBy"), Some("human"));
    let waited = report.callbacks[0].sent_at - report.answered_at.expect("answered");
    assert!(
        waited.num_milliseconds() >= 380,
        "TwiML fetched {waited} after answer"
    );
}

#[tokio::test]
async fn time_limit_ends_a_call_whose_stream_stays_open() {
    let (emulator, product) = setup().await;
    let twiml = product.stream_twiml();
    let (_, body) = create(
        &emulator,
        &[
            ("To", "+15551000016"),
            ("From", "+15550000000"),
            ("Twiml", &twiml),
            ("TimeLimit", "1"),
        ],
    )
    .await;
    let sid = body["sid"].as_str().expect("sid").to_string();
    let report = emulator
        .wait_for_call_end(&sid, SECS(5))
        .await
        .expect("ends");
    assert_eq!(report.ended_by.as_deref(), Some("time_limit"));
    assert_eq!(report.streams[0].end.as_deref(), Some("time_limit"));
    assert_eq!(report.status, "completed");
}
