//! Deepgram live transcription, end to end over a WebSocket.

use super::*;
use crate::providers::config::Provider;
use serde_json::json;
use tokio_tungstenite::tungstenite::Error as WsError;

const TEXT: &str = "hello token-17";

/// Seconds at 8 kHz.
fn at(samples: usize) -> f64 {
    samples as f64 / 8000.0
}

fn close_enough(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 0.003,
        "{what}: got {got}, want {want}"
    );
}

#[tokio::test]
async fn an_utterance_in_20ms_mulaw_frames_is_transcribed_with_audio_clock_times() {
    let emu = start(ProviderConfig::instant()).await;
    let mut ws = connect(&emu, "/v1/listen", PRODUCT_QUERY, "dg-key")
        .await
        .expect("upgrade");
    let utterance = speech(TEXT);
    let mut audio = silence(1000);
    audio.extend(&utterance);
    audio.extend(silence(1500));
    send_mulaw(&mut ws, &audio).await;
    let got = read_until(&mut ws, Duration::from_secs(10), |r| {
        !r.of_type("UtteranceEnd").is_empty()
    })
    .await;
    let kinds: Vec<&str> = got.json.iter().filter_map(|m| m["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["SpeechStarted", "Results", "Results", "UtteranceEnd"],
        "{:?}",
        got.json
    );
    let end = at(8000 + utterance.len());
    close_enough(secs(&got.json[0]["timestamp"]), 1.0, "speech started");
    let interim = &got.json[1];
    assert_eq!(interim["is_final"], false);
    assert_eq!(interim["channel"]["alternatives"][0]["transcript"], TEXT);
    let last = &got.json[2];
    assert_eq!(last["is_final"], true);
    assert_eq!(last["speech_final"], true);
    assert_eq!(last["from_finalize"], false);
    assert_eq!(last["channel"]["alternatives"][0]["transcript"], TEXT);
    close_enough(secs(&last["start"]), 0.0, "final start");
    close_enough(
        secs(&last["start"]) + secs(&last["duration"]),
        end + 0.3,
        "final end (endpointing after the utterance)",
    );
    let words = last["channel"]["alternatives"][0]["words"]
        .as_array()
        .expect("words");
    assert_eq!(words.len(), 2);
    assert_eq!(words[1]["word"], "token-17");
    close_enough(secs(&words[0]["start"]), 1.0 + 0.22, "first word start");
    close_enough(
        secs(&got.json[3]["last_word_end"]),
        end,
        "utterance end's last word",
    );

    send_json(&mut ws, json!({"type": "CloseStream"})).await;
    let tail = read_until(&mut ws, Duration::from_secs(5), |_| false).await;
    let metadata = tail.of_type("Metadata");
    assert_eq!(metadata.len(), 1, "{:?}", tail.json);
    close_enough(secs(&metadata[0]["duration"]), at(audio.len()), "duration");
    assert_eq!(tail.close.map(|c| u16::from(c.code)), Some(1000));

    let report = emu.report();
    let session = &report.stt[0];
    close_enough(session.audio_seconds, at(audio.len()), "report audio");
    assert_eq!(session.final_texts(), [TEXT]);
    assert_eq!(session.end.as_deref(), Some("close_stream"));
    let heard = &session.transcripts[1];
    close_enough(heard.speech_start.unwrap_or_default(), 1.0, "report start");
    close_enough(heard.speech_end.unwrap_or_default(), end, "report end");
}

/// Runs `audio` through a session ended by CloseStream; returns what came back.
async fn transcribe_mulaw(emu: &ProviderEmulator, query: &str, bytes: &[u8]) -> Received {
    let mut ws = connect(emu, "/v1/listen", query, "k")
        .await
        .expect("upgrade");
    for frame in bytes.chunks(160) {
        ws.send(Message::binary(frame.to_vec()))
            .await
            .expect("sent");
    }
    send_json(&mut ws, json!({"type": "CloseStream"})).await;
    read_until(&mut ws, Duration::from_secs(10), |_| false).await
}

#[tokio::test]
async fn a_corrupted_utterance_yields_no_text() {
    let emu = start(ProviderConfig::instant()).await;
    let utterance = speech(TEXT);
    let mut audio = silence(500);
    audio.extend(&utterance);
    audio.extend(silence(1000));
    let mut bytes = mulaw::encode(&audio);
    let middle = 4000 + utterance.len() / 2;
    bytes[middle..middle + 80]
        .iter_mut()
        .for_each(|b| *b ^= 0x5A);
    let got = transcribe_mulaw(&emu, PRODUCT_QUERY, &bytes).await;
    assert!(got.texts().is_empty(), "{:?}", got.json);
    // Speech was heard, so the endpoint still comes: as an empty final.
    assert!(got.finals().iter().any(|f| f["speech_final"] == true));
    assert!(got.of_type("UtteranceEnd").is_empty());
    let report = emu.report();
    assert_eq!(report.stt[0].undecodable.len(), 1, "{:?}", report.stt[0]);
    assert!(report.final_transcripts().is_empty());
}

#[tokio::test]
async fn a_truncated_utterance_yields_no_text_whether_cut_or_followed_by_silence() {
    let emu = start(ProviderConfig::instant()).await;
    let utterance = speech(TEXT);
    let mut cut = silence(500);
    cut.extend(&utterance[..utterance.len() / 2]);
    let got = transcribe_mulaw(&emu, PRODUCT_QUERY, &mulaw::encode(&cut)).await;
    assert!(got.texts().is_empty(), "{:?}", got.json);
    cut.extend(silence(1000));
    let got = transcribe_mulaw(&emu, PRODUCT_QUERY, &mulaw::encode(&cut)).await;
    assert!(got.texts().is_empty(), "{:?}", got.json);
    let report = emu.report();
    assert_eq!(report.stt[0].undecodable[0].fault, "Truncated");
    assert!(report.stt[1].undecodable[0].fault.starts_with("LostSignal"));
}

#[tokio::test]
async fn finalize_flushes_pending_text_before_the_endpoint() {
    let emu = start(ProviderConfig::instant()).await;
    let query = PRODUCT_QUERY.replace("endpointing=300", "endpointing=5000");
    let mut ws = connect(&emu, "/v1/listen", &query, "k")
        .await
        .expect("upgrade");
    let mut audio = silence(200);
    audio.extend(speech(TEXT));
    audio.extend(silence(200));
    send_mulaw(&mut ws, &audio).await;
    let got = read_until(&mut ws, Duration::from_secs(5), |r| !r.texts().is_empty()).await;
    assert!(
        got.finals().is_empty(),
        "only an interim so far: {:?}",
        got.json
    );
    send_json(&mut ws, json!({"type": "Finalize"})).await;
    let got = read_until(&mut ws, Duration::from_secs(5), |r| !r.finals().is_empty()).await;
    let last = got.finals()[0];
    assert_eq!(last["from_finalize"], true);
    assert_eq!(last["speech_final"], false);
    assert_eq!(last["channel"]["alternatives"][0]["transcript"], TEXT);
    close_enough(
        secs(&last["start"]) + secs(&last["duration"]),
        at(audio.len()),
        "a finalize ends where the audio is",
    );
    // Nothing left: a second Finalize answers with an empty final.
    send_json(&mut ws, json!({"type": "Finalize"})).await;
    let got = read_until(&mut ws, Duration::from_secs(5), |r| !r.finals().is_empty()).await;
    assert_eq!(
        got.finals()[0]["channel"]["alternatives"][0]["transcript"],
        ""
    );
}

#[tokio::test]
async fn a_pause_shorter_than_the_endpointing_keeps_two_utterances_in_one_final() {
    let emu = start(ProviderConfig::instant()).await;
    let mut audio = silence(300);
    audio.extend(speech("first one"));
    audio.extend(silence(150));
    audio.extend(speech("second-2"));
    audio.extend(silence(800));
    audio.extend(speech("third-3"));
    audio.extend(silence(500));
    let got = transcribe_mulaw(&emu, PRODUCT_QUERY, &mulaw::encode(&audio)).await;
    let finals: Vec<(String, bool)> = got
        .finals()
        .iter()
        .map(|f| {
            let text = f["channel"]["alternatives"][0]["transcript"]
                .as_str()
                .unwrap_or_default();
            (text.to_string(), f["speech_final"] == true)
        })
        .collect();
    assert_eq!(
        finals,
        [
            ("first one second-2".to_string(), true),
            ("third-3".to_string(), true)
        ]
    );
    // Finals tile the audio clock: each starts where the previous ended.
    let all = got.finals();
    let first_end = secs(&all[0]["start"]) + secs(&all[0]["duration"]);
    close_enough(secs(&all[1]["start"]), first_end, "contiguous finals");
}

#[tokio::test]
async fn linear16_at_16khz_is_read_at_its_own_rate() {
    let emu = start(ProviderConfig::instant()).await;
    let query = "encoding=linear16&sample_rate=16000&endpointing=300&interim_results=false";
    let mut ws = connect(&emu, "/v1/listen", query, "k")
        .await
        .expect("upgrade");
    let mut audio = vec![0i16; 16000 / 2];
    audio.extend(speech_code::encode(TEXT, 16000).expect("ascii"));
    audio.extend(vec![0i16; 16000]);
    let bytes: Vec<u8> = audio.iter().flat_map(|s| s.to_le_bytes()).collect();
    // Odd-sized frames split samples: the emulator must rejoin them.
    for frame in bytes.chunks(641) {
        ws.send(Message::binary(frame.to_vec()))
            .await
            .expect("sent");
    }
    let got = read_until(&mut ws, Duration::from_secs(5), |r| !r.finals().is_empty()).await;
    assert_eq!(got.texts(), [TEXT]);
    assert!(
        got.of_type("SpeechStarted").is_empty(),
        "vad_events was not asked for"
    );
    close_enough(
        secs(&got.finals()[0]["channel"]["alternatives"][0]["words"][0]["start"]),
        0.5 + 0.22,
        "word time at 16 kHz",
    );
}

#[tokio::test]
async fn silence_without_keepalive_closes_with_net_0001_and_keepalive_holds_it_open() {
    let config = ProviderConfig::instant().with_stt_idle_timeout_ms(400);
    let emu = start(config).await;
    let mut ws = connect(&emu, "/v1/listen", PRODUCT_QUERY, "k")
        .await
        .expect("upgrade");
    let started = tokio::time::Instant::now();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        send_json(&mut ws, json!({"type": "KeepAlive"})).await;
    }
    let got = read_until(&mut ws, Duration::from_secs(5), |_| false).await;
    let close = got.close.expect("a close frame");
    assert_eq!(u16::from(close.code), 1011);
    assert!(close.reason.contains("NET-0001"), "{}", close.reason);
    assert!(started.elapsed() >= Duration::from_millis(1200));
    let report = emu.report();
    assert_eq!(report.stt[0].keepalives, 6);
    assert_eq!(report.stt[0].end.as_deref(), Some("idle_timeout"));
}

#[tokio::test]
async fn a_wrong_key_is_refused_at_the_upgrade_with_401() {
    let config = ProviderConfig::instant().with_keys(Provider::Deepgram, &["dg-right"]);
    let emu = start(config).await;
    let refused = connect(&emu, "/v1/listen", PRODUCT_QUERY, "dg-wrong").await;
    let Err(WsError::Http(response)) = refused else {
        panic!("expected an HTTP refusal, got {refused:?}");
    };
    assert_eq!(response.status().as_u16(), 401);
    let body: Value =
        serde_json::from_slice(response.body().as_deref().unwrap_or_default()).expect("JSON");
    assert_eq!(body["err_code"], "INVALID_AUTH");
    assert!(connect(&emu, "/v1/listen", PRODUCT_QUERY, "dg-right")
        .await
        .is_ok());
    let unsupported = connect(
        &emu,
        "/v1/listen",
        "encoding=opus&sample_rate=48000",
        "dg-right",
    )
    .await;
    assert!(matches!(unsupported, Err(WsError::Http(r)) if r.status().as_u16() == 400));
}

#[tokio::test]
async fn a_result_delay_holds_every_message_back_in_order() {
    let emu = start(ProviderConfig::instant().with_stt_delay_ms(400)).await;
    let mut ws = connect(&emu, "/v1/listen", PRODUCT_QUERY, "k")
        .await
        .expect("upgrade");
    let mut audio = speech(TEXT);
    audio.extend(silence(400));
    let sent = tokio::time::Instant::now();
    send_mulaw(&mut ws, &audio).await;
    let got = read_until(&mut ws, Duration::from_secs(5), |r| !r.finals().is_empty()).await;
    assert!(sent.elapsed() >= Duration::from_millis(400));
    let kinds: Vec<&str> = got.json.iter().filter_map(|m| m["type"].as_str()).collect();
    assert_eq!(kinds, ["SpeechStarted", "Results", "Results"]);
}

#[tokio::test]
async fn a_client_close_is_answered_with_a_close_frame() {
    let emu = start(ProviderConfig::instant()).await;
    let mut ws = connect(&emu, "/v1/listen", PRODUCT_QUERY, "k")
        .await
        .expect("upgrade");
    send_mulaw(&mut ws, &silence(200)).await;
    ws.close(None).await.expect("close sent");
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
    assert!(
        matches!(reply, Ok(Some(Ok(Message::Close(_))))),
        "{reply:?}"
    );
    let report = emu
        .wait_for(Duration::from_secs(2), "the session to end", |r| {
            r.stt.first().is_some_and(|s| s.end.is_some())
        })
        .await
        .expect("ended");
    assert_eq!(report.stt[0].end.as_deref(), Some("client_closed"));
    assert!((report.stt[0].audio_seconds - 0.2).abs() < 0.001);
}
