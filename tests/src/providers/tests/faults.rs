//! Each fault kind, on each kind of transport: HTTP streams, plain HTTP, WebSockets.

use super::llm::transcribe;
use super::*;
use crate::providers::wav;
use crate::providers::{Fault, Service};
use serde_json::json;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Error as WsError;

fn chat() -> Value {
    json!({"model": "m", "stream": true,
           "messages": [{"role": "user", "content": "hello token-3"}]})
}

async fn post_chat(
    emu: &ProviderEmulator,
    client: &reqwest::Client,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{}/chat/completions", emu.openai_base_url()))
        .bearer_auth("sk")
        .json(&chat())
        .send()
        .await
}

#[tokio::test]
async fn a_status_fault_answers_with_the_services_error_for_the_next_n_requests() {
    let emu = start(ProviderConfig::instant()).await;
    emu.set_fault(Fault::status(Service::Llm, 503).times(2));
    for _ in 0..2 {
        let response = post_chat(&emu, &http()).await.expect("response");
        assert_eq!(response.status(), 503);
        let error: Value = response.json().await.expect("JSON");
        assert_eq!(error["error"]["type"], "server_error");
    }
    let response = post_chat(&emu, &http()).await.expect("response");
    assert_eq!(response.status(), 200);
    assert!(emu.faults().is_empty());

    emu.set_fault(Fault::status(Service::TtsElevenlabs, 429));
    let response = http()
        .post(format!(
            "{}/v1/text-to-speech/v/stream?output_format=ulaw_8000",
            emu.base_url()
        ))
        .header("xi-api-key", "xi")
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 429);
    let error: Value = response.json().await.expect("JSON");
    assert_eq!(error["detail"]["status"], "too_many_concurrent_requests");

    emu.set_fault(Fault::status(Service::Whisper, 500).times(1));
    let file = wav::pcm16_file(8000, &silence(100));
    assert_eq!(transcribe(&emu, &file).await.status(), 500);
    assert_eq!(transcribe(&emu, &file).await.status(), 200);

    emu.set_fault(Fault::status(Service::Stt, 429).times(1));
    let refused = connect(&emu, "/v1/listen", PRODUCT_QUERY, "k").await;
    assert!(matches!(refused, Err(WsError::Http(r)) if r.status().as_u16() == 429));
    assert!(connect(&emu, "/v1/listen", PRODUCT_QUERY, "k")
        .await
        .is_ok());
    assert_eq!(emu.report().refused.len(), 5);
}

#[tokio::test]
async fn a_stall_accepts_and_then_sends_nothing() {
    let emu = start(ProviderConfig::instant()).await;
    emu.set_fault(Fault::stall(Service::Llm).times(1));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .expect("client");
    let stalled = post_chat(&emu, &impatient).await;
    assert!(stalled.is_err_and(|e| e.is_timeout()));
    assert_eq!(
        post_chat(&emu, &impatient).await.expect("after").status(),
        200
    );

    emu.set_fault(Fault::stall(Service::Stt).times(1));
    let mut ws = connect(&emu, "/v1/listen", PRODUCT_QUERY, "k")
        .await
        .expect("upgrade");
    let mut audio = speech("are you there");
    audio.extend(silence(1500));
    send_mulaw(&mut ws, &audio).await;
    let got = read_until(&mut ws, Duration::from_millis(800), |_| false).await;
    assert!(
        got.json.is_empty() && got.close.is_none() && !got.reset,
        "{got:?}"
    );
    assert_eq!(emu.report().stt[0].fault.as_deref(), Some("stall"));
}

#[tokio::test]
async fn a_drop_cuts_streams_part_way() {
    let emu = start(ProviderConfig::instant()).await;
    emu.set_fault(Fault::drop_after(Service::Llm, 3).times(1));
    let response = post_chat(&emu, &http()).await.expect("headers arrive");
    assert_eq!(response.status(), 200);
    assert!(
        response.text().await.is_err(),
        "the body must end in an error"
    );
    let report = emu.report();
    assert_eq!((report.llm[0].sent, report.llm[0].completed), (3, false));

    // 500 ms of mu-law at 8 kHz is 4000 bytes, then the connection breaks.
    emu.set_fault(Fault::drop_after(Service::TtsOpenai, 500).times(1));
    let mut response = http()
        .post(format!("{}/audio/speech", emu.openai_base_url()))
        .bearer_auth("sk")
        .json(
            &json!({"model": "tts-1", "input": "a long enough sentence to cut",
                      "voice": "alloy", "response_format": "pcm"}),
        )
        .send()
        .await
        .expect("headers arrive");
    let mut received = 0;
    let outcome = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received += chunk.len(),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert!(outcome.is_err(), "cut, not ended");
    assert_eq!(received, 500 * 48, "500 ms of 24 kHz 16-bit");
    assert_eq!(emu.report().tts[0].bytes_sent, 500 * 48);

    emu.set_fault(Fault::drop_after(Service::Whisper, 5).times(1));
    let cut = transcribe(&emu, &wav::pcm16_file(8000, &silence(100))).await;
    assert_eq!(cut.status(), 200);
    assert!(cut.bytes().await.is_err(), "the JSON is cut after 5 bytes");

    emu.set_fault(Fault::drop_after(Service::Stt, 1000).times(1));
    let mut ws = connect(&emu, "/v1/listen", PRODUCT_QUERY, "k")
        .await
        .expect("upgrade");
    let mut audio = silence(600);
    audio.extend(speech("cut in the middle of this"));
    // The server may cut while frames are still being sent.
    for frame in mulaw::encode(&audio).chunks(160) {
        if ws.send(Message::binary(frame.to_vec())).await.is_err() {
            break;
        }
    }
    let got = read_until(&mut ws, Duration::from_secs(5), |_| false).await;
    assert!(
        got.reset && got.close.is_none(),
        "dropped without a close frame: {got:?}"
    );
    assert!(got.texts().is_empty());
    let report = emu.report();
    let session = &report.stt[0];
    assert_eq!(session.end.as_deref(), Some("fault_drop"));
    assert!(
        (session.audio_seconds - 1.0).abs() < 0.05,
        "{}",
        session.audio_seconds
    );
}

#[tokio::test]
async fn a_slow_first_byte_delays_the_response_and_then_serves_it() {
    let emu = start(ProviderConfig::instant()).await;
    emu.set_fault(Fault::slow_first_byte(Service::TtsDeepgram, 300).times(1));
    let started = Instant::now();
    let response = http()
        .post(format!(
            "{}/v1/speak?encoding=mulaw&container=none",
            emu.base_url()
        ))
        .header("authorization", "Token dg")
        .json(&json!({"text": "slow token-8"}))
        .send()
        .await
        .expect("response");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let audio = response.bytes().await.expect("body");
    assert_eq!(decode_texts(&mulaw::decode(&audio), 8000), ["slow token-8"]);

    emu.set_fault(Fault::slow_first_byte(Service::Stt, 300).times(1));
    let started = Instant::now();
    connect(&emu, "/v1/listen", PRODUCT_QUERY, "k")
        .await
        .expect("upgrade");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn faults_and_the_report_are_reachable_over_http() {
    let emu = start(ProviderConfig::instant()).await;
    let client = http();
    let response = client
        .post(format!("{}/_emulator/faults", emu.base_url()))
        .json(
            &json!([{"service": "llm", "kind": "status", "code": 500, "times": 1},
                      {"service": "stt", "kind": "drop", "after": 2000}]),
        )
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 204);
    let faults: Vec<Fault> = client
        .get(format!("{}/_emulator/faults", emu.base_url()))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("JSON");
    assert_eq!(faults.len(), 2);
    assert_eq!(
        post_chat(&emu, &client).await.expect("response").status(),
        500
    );
    let report: crate::providers::Report = client
        .get(format!("{}/_emulator/report", emu.base_url()))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("a Report");
    assert_eq!(report.refused[0].status, 500);
    let cleared = client
        .delete(format!("{}/_emulator/faults", emu.base_url()))
        .send()
        .await
        .expect("response");
    assert_eq!(cleared.status(), 204);
    assert!(emu.faults().is_empty());
}
