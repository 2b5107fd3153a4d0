//! Streaming chat completions with tools, as OpenAI speaks them, and with it every
//! OpenAI-compatible server (Groq, xAI, Together, vLLM, Ollama, llama.cpp): one client,
//! a base URL and an optional key.

mod decode;

use super::sse::SseParser;
use crate::providers::http::Endpoint;
use crate::providers::{ChatMessage, Llm, LlmEvent, LlmRequest, ProviderError};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::collections::VecDeque;

pub use decode::ChunkDecoder;

/// A chat-completions client for one endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiLlm {
    endpoint: Endpoint,
    client: reqwest::Client,
}

impl OpenAiLlm {
    /// A client for `endpoint` (its base includes the version, e.g. `.../v1`).
    pub fn new(endpoint: Endpoint, client: reqwest::Client) -> Self {
        Self { endpoint, client }
    }
}

/// The request body: messages, tools in OpenAI's function format, streaming with usage.
pub fn request_body(request: &LlmRequest) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(message).collect();
    let mut body = json!({
        "model": request.model,
        "temperature": request.temperature,
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": messages,
    });
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                }})
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

fn message(message: &ChatMessage) -> Value {
    match message {
        ChatMessage::System(text) => json!({"role": "system", "content": text}),
        ChatMessage::User(text) => json!({"role": "user", "content": text}),
        ChatMessage::Assistant {
            content,
            tool_calls,
        } => {
            let mut value = json!({"role": "assistant", "content": content});
            if !tool_calls.is_empty() {
                value["tool_calls"] = tool_calls
                    .iter()
                    .map(|call| {
                        json!({"id": call.id, "type": "function", "function": {
                            "name": call.name, "arguments": call.arguments,
                        }})
                    })
                    .collect();
            }
            value
        }
        ChatMessage::Tool { call_id, content } => {
            json!({"role": "tool", "tool_call_id": call_id, "content": content})
        }
    }
}

/// Reading one response: body chunks through the SSE parser and the chunk decoder.
struct Reading {
    body: BoxStream<'static, Result<Bytes, ProviderError>>,
    parser: SseParser,
    decoder: ChunkDecoder,
    ready: VecDeque<Result<LlmEvent, ProviderError>>,
    provider: String,
    ended: bool,
}

impl Reading {
    async fn next(mut self) -> Option<(Result<LlmEvent, ProviderError>, Self)> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                if item.is_err() {
                    // Nothing after an error is trustworthy.
                    self.ended = true;
                    self.ready.clear();
                }
                return Some((item, self));
            }
            if self.ended {
                return None;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => match self.parser.push(&chunk) {
                    Ok(events) => {
                        for event in events {
                            self.ready.extend(self.decoder.decode(&event.data));
                        }
                    }
                    Err(error) => self.ready.push_back(Err(ProviderError::Protocol {
                        provider: self.provider.clone(),
                        message: error.to_string(),
                    })),
                },
                Some(Err(error)) => self.ready.push_back(Err(error)),
                None => {
                    for event in self.parser.finish() {
                        self.ready.extend(self.decoder.decode(&event.data));
                    }
                    self.ready.extend(self.decoder.finish());
                    self.ended = true;
                }
            }
        }
    }
}

#[async_trait]
impl Llm for OpenAiLlm {
    fn name(&self) -> &str {
        &self.endpoint.provider
    }

    async fn stream(
        &self,
        request: LlmRequest,
    ) -> Result<BoxStream<'static, Result<LlmEvent, ProviderError>>, ProviderError> {
        let mut http = self
            .client
            .post(self.endpoint.url("chat/completions")?)
            .header("Accept", "text/event-stream")
            .json(&request_body(&request));
        if let Some(key) = &self.endpoint.api_key {
            http = http.bearer_auth(key.expose_secret());
        }
        let response = self.endpoint.send(http, 0).await?;
        let reading = Reading {
            body: self.endpoint.byte_stream(response, 0),
            parser: SseParser::new(),
            decoder: ChunkDecoder::new(&self.endpoint.provider),
            ready: VecDeque::new(),
            provider: self.endpoint.provider.clone(),
            ended: false,
        };
        Ok(stream::unfold(reading, Reading::next).boxed())
    }
}

#[cfg(test)]
mod tests;
