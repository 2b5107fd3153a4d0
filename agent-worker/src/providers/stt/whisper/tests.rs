//! The Whisper session against a tiny local transcription server.

use super::*;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Seen {
    requests: Arc<AtomicUsize>,
    /// Per request: the form's text fields, the file's name and first bytes, the auth header.
    forms: Arc<Mutex<Vec<Value>>>,
    /// Answer the first request this many ms late.
    first_delay_ms: u64,
    /// Fail the first requests with this status.
    fail_first: Option<(usize, u16)>,
}

async fn transcribe(
    State(seen): State<Seen>,
    headers: HeaderMap,
    mut form: Multipart,
) -> (StatusCode, Json<Value>) {
    let n = seen.requests.fetch_add(1, Ordering::SeqCst);
    let mut fields = json!({
        "auth": headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default(),
    });
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            fields["filename"] = json!(field.file_name().unwrap_or_default());
            let data = field.bytes().await.unwrap();
            fields["riff"] = json!(data.starts_with(b"RIFF"));
            fields["bytes"] = json!(data.len());
        } else {
            fields[name] = json!(field.text().await.unwrap());
        }
    }
    seen.forms.lock().unwrap().push(fields);
    if let Some((count, status)) = seen.fail_first {
        if n < count {
            return (
                StatusCode::from_u16(status).unwrap(),
                Json(json!({"error": {"message": "busy"}})),
            );
        }
    }
    if n == 0 && seen.first_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(seen.first_delay_ms)).await;
    }
    (
        StatusCode::OK,
        Json(json!({"text": format!(" segment {n} ")})),
    )
}

async fn serve(seen: Seen) -> WhisperStt {
    let app = Router::new()
        .route("/v1/audio/transcriptions", post(transcribe))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let endpoint = Endpoint::new(
        "openai",
        &format!("http://127.0.0.1:{port}/v1"),
        Some(SecretString::from("sk-test")),
    );
    let retry = RetryPolicy {
        attempts: 2,
        base: Duration::from_millis(5),
        max: Duration::from_millis(10),
    };
    WhisperStt::new(endpoint, reqwest::Client::new(), 5_000, 200, retry)
}

fn options() -> SttOptions {
    SttOptions {
        model: "whisper-1".into(),
        language: "en-US".into(),
        endpointing_ms: 300,
    }
}

fn speech(n: usize) -> Vec<SttInput> {
    (0..n)
        .map(|_| SttInput::Audio {
            mulaw: Bytes::from(vec![0x10u8; 160]),
            speech: true,
        })
        .collect()
}

#[tokio::test]
async fn a_segment_is_posted_as_a_wav_form_and_answered_with_a_final() {
    let seen = Seen::default();
    let stt = serve(seen.clone()).await;
    let SttSession { audio, mut events } = stt.open(&options()).await.unwrap();
    for input in speech(5) {
        audio.send(input).await.unwrap();
    }
    audio.send(SttInput::Finalize).await.unwrap();
    let event = events.next().await.unwrap().unwrap();
    assert_eq!(
        event,
        SttEvent::Final {
            text: "segment 0".into(),
            start_ms: 0,
            end_ms: 100,
            confidence: None,
            speech_final: true,
        }
    );
    let form = seen.forms.lock().unwrap()[0].clone();
    assert_eq!(form["auth"], "Bearer sk-test");
    assert_eq!(form["model"], "whisper-1");
    assert_eq!(form["language"], "en");
    assert_eq!(form["response_format"], "json");
    assert_eq!(form["filename"], "audio.wav");
    assert_eq!(form["riff"], true);
    assert_eq!(form["bytes"], 44 + 5 * 160 * 2);
    drop(audio);
    assert!(events.next().await.is_none());
}

#[tokio::test]
async fn audio_keeps_flowing_while_a_request_runs_and_results_keep_their_order() {
    let seen = Seen {
        first_delay_ms: 300,
        ..Seen::default()
    };
    let stt = serve(seen.clone()).await;
    let SttSession { audio, mut events } = stt.open(&options()).await.unwrap();
    for input in speech(2).into_iter().chain([SttInput::Finalize]) {
        audio.send(input).await.unwrap();
    }
    // The session takes the next turn at once, while the first request is still out.
    let sending = tokio::time::timeout(Duration::from_millis(200), async {
        for input in speech(3).into_iter().chain([SttInput::Finalize]) {
            audio.send(input).await.unwrap();
        }
    });
    sending.await.expect("audio must not wait for the request");
    let texts: Vec<String> = vec![events.next().await, events.next().await]
        .into_iter()
        .map(|e| match e {
            Some(Ok(SttEvent::Final { text, .. })) => text,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, ["segment 0", "segment 1"]);
}

#[tokio::test]
async fn a_server_error_is_retried_once_and_then_ends_the_session() {
    let seen = Seen {
        fail_first: Some((5, 503)),
        ..Seen::default()
    };
    let stt = serve(seen.clone()).await;
    let SttSession { audio, mut events } = stt.open(&options()).await.unwrap();
    for input in speech(1).into_iter().chain([SttInput::Finalize]) {
        audio.send(input).await.unwrap();
    }
    let event = events.next().await.unwrap();
    assert!(
        matches!(event, Err(ProviderError::Status { status: 503, .. })),
        "{event:?}"
    );
    assert!(events.next().await.is_none());
    assert_eq!(seen.requests.load(Ordering::SeqCst), 2);
}

#[test]
fn languages_are_cut_to_their_primary_subtag() {
    assert_eq!(whisper_language("en-US").as_deref(), Some("en"));
    assert_eq!(whisper_language("pt_BR").as_deref(), Some("pt"));
    assert_eq!(whisper_language(""), None);
}
