//! The chat client against a tiny local server: request shape, headers, a streamed reply
//! split at awkward places, and error statuses.

use super::*;
use crate::providers::{ToolCall, ToolSpec};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Seen {
    bodies: Arc<Mutex<Vec<Value>>>,
    auth: Arc<Mutex<Vec<Option<String>>>>,
}

const REPLY: &str = concat!(
    ": keep-alive\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Sure\"},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\", bye \u{1f44b}\"},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"end_call\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"reason\\\":\\\"done\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":9}}\n\n",
    "data: [DONE]\n\n",
);

async fn completions(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    seen.bodies.lock().unwrap().push(body.clone());
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    seen.auth.lock().unwrap().push(auth);
    if body["model"] == "missing" {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from(r#"{"error":{"message":"model not found"}}"#))
            .unwrap();
    }
    // Chunks of 7 bytes: splits inside lines, inside JSON and inside the emoji.
    let chunks: Vec<Result<Bytes, std::io::Error>> = REPLY
        .as_bytes()
        .chunks(7)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap()
}

async fn serve(key: Option<&str>) -> (OpenAiLlm, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let endpoint = Endpoint::new(
        "groq",
        &format!("http://127.0.0.1:{port}/v1"),
        key.map(SecretString::from),
    );
    (OpenAiLlm::new(endpoint, reqwest::Client::new()), seen)
}

fn request(model: &str) -> LlmRequest {
    LlmRequest {
        model: model.into(),
        temperature: 0.3,
        messages: vec![
            ChatMessage::System("be brief".into()),
            ChatMessage::User("hi".into()),
            ChatMessage::Assistant {
                content: None,
                tool_calls: vec![ToolCall {
                    id: "call_0".into(),
                    name: "set_outcome".into(),
                    arguments: "{}".into(),
                }],
            },
            ChatMessage::Tool {
                call_id: "call_0".into(),
                content: "ok".into(),
            },
        ],
        tools: vec![ToolSpec {
            name: "end_call".into(),
            description: "Hang up".into(),
            parameters: json!({"type": "object", "properties": {}}),
        }],
    }
}

#[tokio::test]
async fn a_streamed_reply_with_a_tool_call_arrives_as_events() {
    let (llm, seen) = serve(Some("gsk-test")).await;
    let events: Vec<_> = llm.stream(request("llama")).await.unwrap().collect().await;
    let events: Vec<LlmEvent> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        events,
        vec![
            LlmEvent::Token("Sure".into()),
            LlmEvent::Token(", bye \u{1f44b}".into()),
            LlmEvent::ToolCall(ToolCall {
                id: "call_1".into(),
                name: "end_call".into(),
                arguments: r#"{"reason":"done"}"#.into(),
            }),
            LlmEvent::Usage {
                prompt_tokens: 40,
                completion_tokens: 9
            },
        ]
    );
    assert_eq!(
        seen.auth.lock().unwrap()[0].as_deref(),
        Some("Bearer gsk-test")
    );
    let body = seen.bodies.lock().unwrap()[0].clone();
    assert_eq!(body["model"], "llama");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "end_call");
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(body["messages"][2]["content"], Value::Null);
    assert_eq!(
        body["messages"][2]["tool_calls"][0]["function"]["name"],
        "set_outcome"
    );
    assert_eq!(
        body["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_0", "content": "ok"})
    );
}

#[tokio::test]
async fn an_error_status_carries_its_body_and_no_key_sends_no_authorization() {
    let (llm, seen) = serve(None).await;
    let error = llm.stream(request("missing")).await.err().unwrap();
    assert_eq!(
        error,
        ProviderError::Status {
            provider: "groq".into(),
            status: 404,
            body: r#"{"error":{"message":"model not found"}}"#.into(),
        }
    );
    assert_eq!(seen.auth.lock().unwrap()[0], None);
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let endpoint = Endpoint::new("openai", &format!("http://127.0.0.1:{port}/v1"), None);
    let llm = OpenAiLlm::new(endpoint, reqwest::Client::new());
    let error = llm.stream(request("m")).await.err().unwrap();
    assert!(
        matches!(error, ProviderError::Connection { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
}
