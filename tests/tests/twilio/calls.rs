//! The REST API and status callbacks: ordering, signatures, CPS queueing, errors, hang-ups
//! and delivery faults.

use crate::support::Command;
use crate::{create, setup, statuses, streamed_call, update, SECS};
use outbound_tests::twilio::{signature, CallbackDelivery, CalleeScript, Emulator, EmulatorConfig};
use serde_json::Value;
use tokio::time::{sleep, Duration};

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

#[tokio::test]
async fn a_queued_call_hung_up_over_rest_ends_canceled_without_dialling() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("start");
    let product = crate::support::Product::start(emulator.auth_token()).await;
    let status_url = product.url("/status");
    let mut sids = Vec::new();
    for to in ["+15551000017", "+15551000018"] {
        let (_, body) = create(
            &emulator,
            &[
                ("To", to),
                ("From", "+15550000000"),
                ("Twiml", "<Response><Pause length=\"1\"/></Response>"),
                ("StatusCallback", &status_url),
            ],
        )
        .await;
        sids.push(body["sid"].as_str().expect("sid").to_string());
    }
    // With one call per second the second one is still queued.
    let (status, body) = update(&emulator, &sids[1], &[("Status", "canceled")]).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("canceled")));
    let report = emulator
        .wait_for_call_end(&sids[1], SECS(5))
        .await
        .expect("ends");
    assert!(report.dialed_at.is_none());
    assert_eq!(report.callback_statuses(), ["canceled"]);
    let (status, body) = update(&emulator, &sids[1], &[("Status", "canceled")]).await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(20404)));
}
