//! OpenAI chat completions, `POST /v1/chat/completions`, streamed (SSE) or not, with tool
//! calls. Any OpenAI-compatible client (Groq, vLLM, Ollama...) speaks the same.
//!
//! The reply comes from [`brain`]: it answers the last message of the request, so a test
//! can tell from the reply which turn it answers. Usage is counted, not invented: prompt
//! tokens are the words in all messages, completion tokens the pieces sent.

pub(crate) mod analysis;
pub(crate) mod brain;
pub(crate) mod chunks;
pub(crate) mod sse;

use super::errors::{Api, ApiError};
use super::faults::Service;
use super::gate::admit;
use super::openai_audio::cut_body;
use super::report::LlmRequestReport;
use super::state::Shared;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use brain::Input;
use chunks::{Envelope, Usage};
use serde_json::{json, Value};
use std::sync::Arc;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [
        {"id": "emulator-chat", "object": "model", "created": 0, "owned_by": "emulator"}
    ]}))
}

/// A message's text: a string, or the `text` parts of a content array.
fn content_text(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Words in every message's text and tool-call arguments.
fn prompt_tokens(messages: &[Value]) -> u64 {
    messages
        .iter()
        .map(|m| {
            let calls: usize = m["tool_calls"]
                .as_array()
                .map(|calls| {
                    calls
                        .iter()
                        .filter_map(|c| c["function"]["arguments"].as_str())
                        .map(|a| a.split_whitespace().count().max(1))
                        .sum()
                })
                .unwrap_or(0);
            (content_text(m).split_whitespace().count() + calls) as u64
        })
        .sum()
}

/// What the reply answers.
fn input(messages: &[Value]) -> Input {
    match messages.last().and_then(|m| m["role"].as_str()) {
        Some("tool") | Some("function") => Input::ToolResult,
        Some("user") => Input::User(messages.last().map(content_text).unwrap_or_default()),
        _ => match messages.iter().rev().find(|m| m["role"] == "user") {
            Some(m) => Input::User(content_text(m)),
            None => Input::Opening,
        },
    }
}

fn offered_tools(body: &Value) -> Vec<String> {
    if body["tool_choice"] == "none" {
        return Vec::new();
    }
    body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["function"]["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn completion_id() -> String {
    format!("chatcmpl-{}", super::request_id().replace('-', ""))
}

async fn completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let service = Service::Llm;
    let admitted = admit(&shared, service, &headers).await?;
    let refuse = |e: ApiError| {
        shared.refused(service, e.status, e.message.clone());
        e
    };
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        refuse(ApiError::bad_request(
            Api::OpenAi,
            format!("We could not parse the JSON body of your request: {e}"),
        ))
    })?;
    let model = body["model"].as_str().map(String::from).ok_or_else(|| {
        refuse(
            ApiError::new(
                Api::OpenAi,
                400,
                "missing_required_parameter",
                "you must provide a model parameter",
            )
            .param("model"),
        )
    })?;
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .cloned()
        .ok_or_else(|| {
            refuse(
                ApiError::new(
                    Api::OpenAi,
                    400,
                    "missing_required_parameter",
                    "'messages' must be a non-empty array",
                )
                .param("messages"),
            )
        })?;
    let tools = offered_tools(&body);
    let input = input(&messages);
    let reply = match analysis::answer(&messages, || shared.take_invalid_analysis()) {
        Some(text) => brain::Reply {
            text,
            calls: Vec::new(),
        },
        None => brain::reply(&input, &tools, chrono::Utc::now()),
    };
    let max_tokens = body["max_completion_tokens"]
        .as_u64()
        .or_else(|| body["max_tokens"].as_u64());
    let parallel = body["parallel_tool_calls"].as_bool().unwrap_or(true);
    let plan = chunks::plan(&reply, max_tokens, parallel);
    let usage = Usage {
        prompt: prompt_tokens(&messages),
        completion: plan.completion_tokens,
    };
    let stream = body["stream"].as_bool().unwrap_or(false);
    let env = Envelope {
        id: completion_id(),
        created: chrono::Utc::now().timestamp(),
        model: model.clone(),
        include_usage: stream && body["stream_options"]["include_usage"] == true,
    };
    let record = sse::LlmRecord::open(
        &shared,
        LlmRequestReport {
            id: env.id.clone(),
            received_at: Some(chrono::Utc::now()),
            model,
            stream,
            last_user_text: match &input {
                Input::User(text) => Some(text.clone()),
                _ => None,
            },
            messages,
            tools_offered: tools,
            reply: plan.text.clone(),
            tool_calls: plan.calls.clone(),
            finish_reason: plan.finish_reason.into(),
            fault: admitted.fault,
            ..LlmRequestReport::default()
        },
    );
    if !stream {
        let json = chunks::completion(&env, &plan, usage).to_string();
        let mut record = record;
        // Unstreamed, the model's whole generation time passes before the answer.
        let wait = shared.config.llm.first_token_ms
            + shared.config.llm.token_delay_ms * plan.completion_tokens;
        shared.sleep_ms(wait).await;
        let len = json.len() as u64;
        record.sent(admitted.drop_after.map_or(len, |d| d.min(len)));
        if admitted.drop_after.is_none() {
            record.complete();
        }
        return Ok((
            [(CONTENT_TYPE, "application/json")],
            cut_body(json, admitted.drop_after),
        )
            .into_response());
    }
    let mut events: Vec<Bytes> = plan
        .deltas
        .iter()
        .map(|d| sse::event(&chunks::chunk(&env, d)))
        .collect();
    if env.include_usage {
        events.push(sse::event(&chunks::usage_chunk(&env, usage)));
    }
    events.push(Bytes::from_static(sse::DONE.as_bytes()));
    let pace = sse::Pace {
        first_ms: shared.config.llm.first_token_ms,
        each_ms: shared.config.llm.token_delay_ms,
        drop_after: admitted.drop_after,
    };
    let body = sse::body(shared.clone(), events, pace, record);
    Ok((
        [
            (CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_is_the_last_message() {
        let user = json!({"role": "user", "content": "hi token-1"});
        let tool = json!({"role": "tool", "tool_call_id": "call_1", "content": "ok"});
        let assistant = json!({"role": "assistant", "content": "hello"});
        let system = json!({"role": "system", "content": "be nice"});
        assert_eq!(
            input(&[system.clone(), user.clone()]),
            Input::User("hi token-1".into())
        );
        assert_eq!(input(&[user.clone(), tool]), Input::ToolResult);
        assert_eq!(input(&[user, assistant]), Input::User("hi token-1".into()));
        assert_eq!(input(&[system]), Input::Opening);
        let parts = json!({"role": "user", "content": [{"type": "text", "text": "a b"}]});
        assert_eq!(prompt_tokens(&[parts]), 2);
    }
}
