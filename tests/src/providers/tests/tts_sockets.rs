//! Text to speech over the two WebSocket APIs: Deepgram Aura and ElevenLabs stream-input.

use super::*;
use base64::Engine;
use serde_json::json;

#[tokio::test]
async fn the_deepgram_socket_speaks_on_flush_and_stops_on_clear() {
    let emu = start(ProviderConfig::instant().with_tts_latency(0, 5.0)).await;
    let query = "model=aura-2-thalia-en&encoding=mulaw&sample_rate=8000";
    let mut ws = connect(&emu, "/v1/speak", query, "dg")
        .await
        .expect("upgrade");
    send_json(&mut ws, json!({"type": "Speak", "text": "Hello there, "})).await;
    send_json(&mut ws, json!({"type": "Speak", "text": "token-5."})).await;
    send_json(&mut ws, json!({"type": "Flush"})).await;
    let got = read_until(&mut ws, Duration::from_secs(10), |r| {
        !r.of_type("Flushed").is_empty()
    })
    .await;
    assert_eq!(got.of_type("Metadata").len(), 1);
    assert_eq!(got.of_type("Flushed")[0]["sequence_id"], 0);
    assert_eq!(
        decode_texts(&mulaw::decode(&got.binary), 8000),
        ["Hello there, token-5."]
    );

    let long: String = (0..30).map(|i| format!("word{i} ")).collect();
    send_json(&mut ws, json!({"type": "Speak", "text": long})).await;
    send_json(&mut ws, json!({"type": "Flush"})).await;
    let partial = read_until(&mut ws, Duration::from_secs(5), |r| r.binary.len() >= 4000).await;
    send_json(&mut ws, json!({"type": "Clear"})).await;
    let after = read_until(&mut ws, Duration::from_secs(5), |r| {
        !r.of_type("Cleared").is_empty()
    })
    .await;
    assert!(
        after.of_type("Flushed").is_empty(),
        "the cleared flush never completes"
    );
    let heard = partial.binary.len() + after.binary.len();
    assert!(
        heard < 16000,
        "audio stopped at the clear, {heard} bytes sent"
    );
    send_json(&mut ws, json!({"type": "Close"})).await;
    let end = read_until(&mut ws, Duration::from_secs(5), |_| false).await;
    assert_eq!(end.close.map(|c| u16::from(c.code)), Some(1000));

    let report = emu.report();
    assert_eq!(report.tts.len(), 2);
    assert!(report.tts[0].completed && !report.tts[0].cleared);
    assert_eq!(report.tts[0].transport, "websocket");
    assert!(report.tts[1].cleared && !report.tts[1].completed);
}

#[tokio::test]
async fn elevenlabs_stream_input_speaks_flushed_chunks_and_ends_with_is_final() {
    let emu = start(ProviderConfig::instant()).await;
    // No header: the key comes in the first message, as browsers send it.
    let url = format!(
        "{}/v1/text-to-speech/voice-9/stream-input?model_id=eleven_flash_v2_5&output_format=ulaw_8000",
        emu.ws_base_url()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    send_json(
        &mut ws,
        json!({"text": " ", "xi_api_key": "xi",
                              "voice_settings": {"stability": 0.5, "similarity_boost": 0.8}}),
    )
    .await;
    for chunk in ["Hello ", "there, "] {
        send_json(&mut ws, json!({"text": chunk})).await;
    }
    send_json(&mut ws, json!({"text": "token-5. ", "flush": true})).await;
    send_json(&mut ws, json!({"text": "Goodbye "})).await;
    // An empty text ends the input: what is buffered is spoken, then isFinal.
    send_json(&mut ws, json!({"text": ""})).await;
    let got = read_until(&mut ws, Duration::from_secs(10), |r| {
        r.json.iter().any(|m| m["isFinal"] == true)
    })
    .await;
    let mut audio = Vec::new();
    for message in got.json.iter().filter(|m| m["audio"].is_string()) {
        let chunk = base64::engine::general_purpose::STANDARD
            .decode(message["audio"].as_str().unwrap_or_default())
            .expect("base64");
        audio.extend(chunk);
    }
    assert_eq!(
        decode_texts(&mulaw::decode(&audio), 8000),
        ["Hello there, token-5.", "Goodbye"]
    );
    let end = read_until(&mut ws, Duration::from_secs(5), |_| false).await;
    assert_eq!(end.close.map(|c| u16::from(c.code)), Some(1000));
    let report = emu.report();
    assert_eq!(report.tts[0].transport, "websocket");
    assert!(report.tts.iter().all(|t| t.completed));
    assert_eq!(report.tts_texts(), ["Hello there, token-5.", "Goodbye"]);
}

#[tokio::test]
async fn elevenlabs_stream_input_speaks_at_flushes_and_at_the_length_schedule() {
    let emu = start(ProviderConfig::instant()).await;
    let url = format!(
        "{}/v1/text-to-speech/v/stream-input?output_format=pcm_16000",
        emu.ws_base_url()
    );
    let mut request = url.into_client_request().expect("url");
    request
        .headers_mut()
        .insert("xi-api-key", HeaderValue::from_static("xi"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    send_json(
        &mut ws,
        json!({"text": " ", "generation_config": {"chunk_length_schedule": [50]}}),
    )
    .await;
    send_json(
        &mut ws,
        json!({"text": "First clause here. ", "flush": true}),
    )
    .await;
    // Past the 50-character schedule without a flush: spoken up to the last space.
    send_json(
        &mut ws,
        json!({"text": "one two three four five six seven eight nine ten eleven "}),
    )
    .await;
    send_json(&mut ws, json!({"text": "twelve"})).await;
    send_json(&mut ws, json!({"text": ""})).await;
    let got = read_until(&mut ws, Duration::from_secs(10), |r| {
        r.json.iter().any(|m| m["isFinal"] == true)
    })
    .await;
    let audio: Vec<u8> = got
        .json
        .iter()
        .filter_map(|m| m["audio"].as_str())
        .flat_map(|a| {
            base64::engine::general_purpose::STANDARD
                .decode(a)
                .expect("base64")
        })
        .collect();
    assert_eq!(
        decode_texts(&pcm16le(&audio), 16000),
        [
            "First clause here.",
            "one two three four five six seven eight nine ten eleven",
            "twelve"
        ]
    );
}
