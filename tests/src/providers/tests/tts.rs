//! Text to speech from all three services decodes back to the text asked for.

use super::*;
use crate::providers::wav;
use serde_json::json;

const TEXT: &str = "Thanks for calling token-42.";

async fn eleven(emu: &ProviderEmulator, format: &str, text: &str) -> reqwest::Response {
    http()
        .post(format!(
            "{}/v1/text-to-speech/voice-1/stream?output_format={format}",
            emu.base_url()
        ))
        .header("xi-api-key", "xi-key")
        .json(&json!({"text": text, "model_id": "eleven_flash_v2_5",
                      "voice_settings": {"stability": 0.5, "similarity_boost": 0.8}}))
        .send()
        .await
        .expect("response")
}

async fn openai_speech(emu: &ProviderEmulator, format: &str, text: &str) -> reqwest::Response {
    http()
        .post(format!("{}/audio/speech", emu.openai_base_url()))
        .bearer_auth("sk-test")
        .json(
            &json!({"model": "gpt-4o-mini-tts", "input": text, "voice": "alloy",
                      "response_format": format}),
        )
        .send()
        .await
        .expect("response")
}

async fn deepgram_speak(emu: &ProviderEmulator, query: &str, text: &str) -> reqwest::Response {
    http()
        .post(format!("{}/v1/speak?{query}", emu.base_url()))
        .header("authorization", "Token dg-key")
        .json(&json!({ "text": text }))
        .send()
        .await
        .expect("response")
}

async fn body(response: reqwest::Response) -> Vec<u8> {
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body").to_vec()
}

#[tokio::test]
async fn every_format_of_every_service_decodes_back_to_the_text() {
    let emu = start(ProviderConfig::instant()).await;
    let ulaw = body(eleven(&emu, "ulaw_8000", TEXT).await).await;
    assert_eq!(decode_texts(&mulaw::decode(&ulaw), 8000), [TEXT]);
    for rate in [16000, 24000, 44100] {
        let pcm = body(eleven(&emu, &format!("pcm_{rate}"), TEXT).await).await;
        assert_eq!(decode_texts(&pcm16le(&pcm), rate), [TEXT], "pcm_{rate}");
    }
    let pcm = body(openai_speech(&emu, "pcm", TEXT).await).await;
    assert_eq!(decode_texts(&pcm16le(&pcm), 24000), [TEXT]);
    let file = body(openai_speech(&emu, "wav", TEXT).await).await;
    let parsed = wav::parse(&file).expect("a WAV stream");
    assert_eq!(parsed.rate, 24000);
    assert_eq!(decode_texts(&parsed.samples, 24000), [TEXT]);
    let raw =
        body(deepgram_speak(&emu, "encoding=mulaw&sample_rate=8000&container=none", TEXT).await)
            .await;
    assert_eq!(decode_texts(&mulaw::decode(&raw), 8000), [TEXT]);
    let file = body(
        deepgram_speak(
            &emu,
            "model=aura-2-thalia-en&encoding=linear16&sample_rate=16000",
            TEXT,
        )
        .await,
    )
    .await;
    let parsed = wav::parse(&file).expect("Deepgram's default container is WAV");
    assert_eq!(decode_texts(&parsed.samples, 16000), [TEXT]);

    let report = emu.report();
    assert_eq!(report.tts.len(), 8);
    let first = &report.tts[0];
    assert_eq!(
        (
            first.provider.as_str(),
            first.format.as_str(),
            first.voice.as_str()
        ),
        ("elevenlabs", "ulaw_8000", "voice-1")
    );
    assert_eq!(first.bytes_sent, ulaw.len() as u64);
    assert!(first.completed && first.first_byte_ms.is_some());
    assert_eq!(first.audio_ms, ulaw.len() as u64 / 8);
    // The same text at the same rate is encoded once.
    let (hits, _) = emu.tts_cache_stats();
    assert!(hits >= 2, "cache hits {hits}");
}

#[tokio::test]
async fn long_text_is_spoken_as_several_utterances_split_between_words() {
    let emu = start(ProviderConfig::instant()).await;
    let words: Vec<String> = (0..70).map(|i| format!("w{i}")).collect();
    let text = words.join(" ");
    assert!(text.len() > 255);
    let ulaw = body(eleven(&emu, "ulaw_8000", &text).await).await;
    let heard = decode_texts(&mulaw::decode(&ulaw), 8000);
    assert_eq!(heard.len(), 2, "{heard:?}");
    assert_eq!(heard.join(" "), text);
}

#[tokio::test]
async fn typographic_punctuation_is_spoken_as_ascii_and_other_non_ascii_is_refused() {
    let emu = start(ProviderConfig::instant()).await;
    let ulaw = body(eleven(&emu, "ulaw_8000", "It\u{2019}s fine \u{2014} thanks").await).await;
    assert_eq!(
        decode_texts(&mulaw::decode(&ulaw), 8000),
        ["It's fine - thanks"]
    );

    let refused = eleven(&emu, "ulaw_8000", "Gr\u{fc}\u{df} Gott").await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.expect("JSON");
    assert!(error["detail"]["message"].is_string(), "{error}");
    let refused = openai_speech(&emu, "pcm", "na\u{ef}ve").await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.expect("JSON");
    assert_eq!(error["error"]["param"], "input");
    let refused = deepgram_speak(&emu, "encoding=mulaw&container=none", "\u{4f60}\u{597d}").await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.expect("JSON");
    assert_eq!(error["err_code"], "BAD_REQUEST");
}

#[tokio::test]
async fn formats_the_emulator_cannot_produce_are_refused_in_each_services_shape() {
    let emu = start(ProviderConfig::instant()).await;
    let refused = openai_speech(&emu, "mp3", TEXT).await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.expect("JSON");
    assert_eq!(error["error"]["param"], "response_format");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    let refused = eleven(&emu, "mp3_44100_128", TEXT).await;
    assert_eq!(refused.status(), 400);
    let refused = deepgram_speak(&emu, "encoding=opus", TEXT).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(emu.report().refused.len(), 3);
}

#[tokio::test]
async fn audio_is_paced_after_the_first_byte_delay() {
    // 10x real time: a ~2 s utterance takes ~200 ms after a 150 ms first byte.
    let config = ProviderConfig::instant().with_tts_latency(150, 10.0);
    let emu = start(config).await;
    let started = tokio::time::Instant::now();
    let mut response = eleven(&emu, "ulaw_8000", TEXT).await;
    let mut first = None;
    let mut chunks = 0;
    let mut total = 0;
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        first.get_or_insert(started.elapsed());
        chunks += 1;
        total += chunk.len();
    }
    let elapsed = started.elapsed();
    let audio = Duration::from_millis(total as u64 / 8);
    assert!(first >= Some(Duration::from_millis(150)), "{first:?}");
    assert!(elapsed >= Duration::from_millis(150) + audio / 10 - Duration::from_millis(40));
    assert!(
        elapsed < audio,
        "faster than real time: {elapsed:?} for {audio:?}"
    );
    assert!(chunks >= 10, "streamed in chunks, got {chunks}");
}
