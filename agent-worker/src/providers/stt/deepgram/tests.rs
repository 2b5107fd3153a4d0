//! The Deepgram client against a tiny local WebSocket server: handshake, query, batching,
//! control messages and how the session ends.

// tungstenite's handshake callback returns its (large) error response by value.
#![allow(clippy::result_large_err)]

use super::*;
use crate::providers::http::websocket_tls;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

fn options() -> SttOptions {
    SttOptions {
        model: "nova-3".into(),
        language: "en-US".into(),
        endpointing_ms: 300,
    }
}

fn client(port: u16) -> DeepgramStt {
    let endpoint = Endpoint::new(
        "deepgram",
        &format!("http://127.0.0.1:{port}"),
        Some(SecretString::from("dg-key")),
    );
    DeepgramStt::new(endpoint, 40, 1_000, websocket_tls().unwrap())
}

fn frame() -> SttInput {
    SttInput::Audio {
        mulaw: bytes::Bytes::from(vec![0xffu8; 160]),
        speech: false,
    }
}

/// Accepts one WebSocket and hands it over with the request's URI and Authorization.
async fn accept(listener: TcpListener) -> (WebSocketStream<TcpStream>, String, String) {
    let (tcp, _) = listener.accept().await.unwrap();
    let seen = Arc::new(std::sync::Mutex::new((String::new(), String::new())));
    let record = Arc::clone(&seen);
    let callback =
        move |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
            let auth = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            *record.lock().unwrap() = (request.uri().to_string(), auth);
            Ok(response)
        };
    let socket = tokio_tungstenite::accept_hdr_async(tcp, callback)
        .await
        .unwrap();
    let (uri, auth) = seen.lock().unwrap().clone();
    (socket, uri, auth)
}

async fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn the_listen_url_carries_the_documented_query_on_a_websocket_scheme() {
    let endpoint = Endpoint::new("deepgram", "https://api.deepgram.com/", None);
    let stt = DeepgramStt::new(endpoint, 40, 1_000, websocket_tls().unwrap());
    let url = stt.listen_url(&options()).unwrap();
    assert_eq!(
        url.as_str(),
        "wss://api.deepgram.com/v1/listen?model=nova-3&language=en-US&encoding=mulaw\
         &sample_rate=8000&channels=1&interim_results=true&endpointing=300\
         &utterance_end_ms=1000&vad_events=true&smart_format=true"
    );
    let off = SttOptions {
        endpointing_ms: 0,
        ..options()
    };
    assert!(stt
        .listen_url(&off)
        .unwrap()
        .as_str()
        .contains("endpointing=false"));
}

#[tokio::test]
async fn audio_is_batched_and_finalize_and_close_stream_are_sent() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let (mut socket, uri, auth) = accept(listener).await;
        assert!(uri.starts_with("/v1/listen?model=nova-3&"), "{uri}");
        assert!(
            uri.contains("encoding=mulaw&sample_rate=8000&channels=1"),
            "{uri}"
        );
        assert_eq!(auth, "Token dg-key");
        let mut seen = Vec::new();
        while let Some(Ok(message)) = socket.next().await {
            match message {
                Message::Binary(audio) => seen.push(format!("audio {}", audio.len())),
                Message::Text(text) => {
                    seen.push(text.to_string());
                    if text.as_str() == wire::FINALIZE {
                        let result = r#"{"type":"Results","is_final":true,"speech_final":false,"from_finalize":true,"start":0.0,"duration":0.06,"channel":{"alternatives":[{"transcript":"hi","confidence":0.9}]}}"#;
                        socket.send(Message::text(result)).await.unwrap();
                    }
                    if text.as_str() == wire::CLOSE_STREAM {
                        let metadata = r#"{"type":"Metadata","request_id":"x"}"#;
                        socket.send(Message::text(metadata)).await.unwrap();
                        socket.close(None).await.unwrap();
                        break;
                    }
                }
                _ => {}
            }
        }
        seen
    });

    let session = client(port).open(&options()).await.unwrap();
    for _ in 0..3 {
        session.audio.send(frame()).await.unwrap();
    }
    session.audio.send(SttInput::Finalize).await.unwrap();
    let SttSession { audio, mut events } = session;
    let first = events.next().await.unwrap().unwrap();
    assert!(matches!(first, SttEvent::Final { ref text, end_ms: 60, .. } if text == "hi"));
    drop(audio);
    assert!(
        events.next().await.is_none(),
        "a requested close is not an error"
    );

    let seen = server.await.unwrap();
    assert_eq!(
        seen,
        vec![
            "audio 320".to_string(),
            "audio 160".into(),
            wire::FINALIZE.into(),
            wire::CLOSE_STREAM.into()
        ]
    );
}

#[tokio::test]
async fn a_close_nobody_asked_for_is_an_error_on_the_events() {
    let (listener, port) = listener().await;
    tokio::spawn(async move {
        let (mut socket, _, _) = accept(listener).await;
        socket.close(None).await.unwrap();
    });
    let mut session = client(port).open(&options()).await.unwrap();
    let event = session.events.next().await.unwrap();
    assert!(
        matches!(event, Err(ProviderError::Connection { .. })),
        "{event:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_session_sends_keep_alive() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let (mut socket, _, _) = accept(listener).await;
        match socket.next().await {
            Some(Ok(Message::Text(text))) => text.to_string(),
            other => format!("{other:?}"),
        }
    });
    let _session = client(port).open(&options()).await.unwrap();
    assert_eq!(server.await.unwrap(), wire::KEEP_ALIVE);
}

#[tokio::test]
async fn a_refused_handshake_is_a_status_error_with_the_body() {
    let (listener, port) = listener().await;
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let refuse = |_: &Request, _: Response| -> Result<Response, ErrorResponse> {
            let mut response = ErrorResponse::new(Some("invalid credentials".into()));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            Err(response)
        };
        let _ = tokio_tungstenite::accept_hdr_async(tcp, refuse).await;
    });
    let error = client(port).open(&options()).await.unwrap_err();
    assert_eq!(
        error,
        ProviderError::Status {
            provider: "deepgram".into(),
            status: 401,
            body: "invalid credentials".into()
        }
    );
}
