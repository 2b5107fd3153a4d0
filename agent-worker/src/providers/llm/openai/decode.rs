//! Chat-completion chunks to `LlmEvent`s.
//!
//! Tool calls arrive as fragments: the first carries `index`, `id` and the function name,
//! the following ones pieces of the JSON arguments under the same `index`. A call is
//! complete when a higher index starts, when `finish_reason` comes, or at `[DONE]`; only
//! then is it emitted, whole. Usage comes in a last chunk with no choices.

use crate::providers::{LlmEvent, ProviderError, ToolCall};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Decodes one response's chunks.
#[derive(Debug)]
pub struct ChunkDecoder {
    provider: String,
    calls: BTreeMap<u64, PartialCall>,
    /// `finish_reason` or `[DONE]` seen: the reply is complete.
    finished: bool,
    done: bool,
}

type Decoded = Vec<Result<LlmEvent, ProviderError>>;

impl ChunkDecoder {
    /// A decoder naming `provider` in its errors.
    pub fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_string(),
            calls: BTreeMap::new(),
            finished: false,
            done: false,
        }
    }

    /// Whether `[DONE]` was seen (what follows is ignored).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// One SSE `data` payload.
    pub fn decode(&mut self, data: &str) -> Decoded {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        if data.trim() == "[DONE]" {
            self.done = true;
            self.finished = true;
            self.flush_calls(u64::MAX, &mut out);
            return out;
        }
        let chunk: Value = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(error) => {
                out.push(Err(self.protocol(format!("bad chunk: {error}"))));
                return out;
            }
        };
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            out.push(Err(self.service_error(error)));
            return out;
        }
        if let Some(choice) = chunk["choices"].as_array().and_then(|c| c.first()) {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                out.push(Ok(LlmEvent::Token(text.to_string())));
            }
            if let Some(fragments) = delta["tool_calls"].as_array() {
                for (position, fragment) in fragments.iter().enumerate() {
                    self.add_fragment(position as u64, fragment, &mut out);
                }
            }
            if choice["finish_reason"].as_str().is_some() {
                self.finished = true;
                self.flush_calls(u64::MAX, &mut out);
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.flush_calls(u64::MAX, &mut out);
            out.push(Ok(LlmEvent::Usage {
                prompt_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
                completion_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
            }));
        }
        out
    }

    /// The body ended: emit what is left; a reply that never finished is an error.
    pub fn finish(&mut self) -> Decoded {
        let mut out = Vec::new();
        if !self.finished {
            out.push(Err(ProviderError::Connection {
                provider: self.provider.clone(),
                message: "stream ended before the reply finished".into(),
            }));
            return out;
        }
        self.flush_calls(u64::MAX, &mut out);
        out
    }

    fn add_fragment(&mut self, position: u64, fragment: &Value, out: &mut Decoded) {
        let index = fragment["index"].as_u64().unwrap_or(position);
        // A new, higher index means the calls before it are complete.
        self.flush_calls(index, out);
        let call = self.calls.entry(index).or_default();
        if let Some(id) = fragment["id"].as_str().filter(|id| !id.is_empty()) {
            call.id = id.to_string();
        }
        let function = &fragment["function"];
        if let Some(name) = function["name"].as_str().filter(|n| !n.is_empty()) {
            // Some servers repeat the whole name in every fragment, some stream it.
            if call.name.is_empty() {
                call.name = name.to_string();
            } else if name != call.name {
                call.name.push_str(name);
            }
        }
        if let Some(arguments) = function["arguments"].as_str() {
            call.arguments.push_str(arguments);
        }
    }

    /// Emits every call with an index below `below`, in index order.
    fn flush_calls(&mut self, below: u64, out: &mut Decoded) {
        let later = match below {
            u64::MAX => BTreeMap::new(),
            below => self.calls.split_off(&below),
        };
        let complete = std::mem::replace(&mut self.calls, later);
        for (index, call) in complete {
            let id = if call.id.is_empty() {
                format!("call_{index}")
            } else {
                call.id
            };
            out.push(Ok(LlmEvent::ToolCall(ToolCall {
                id,
                name: call.name,
                arguments: call.arguments,
            })));
        }
    }

    fn protocol(&self, message: String) -> ProviderError {
        ProviderError::Protocol {
            provider: self.provider.clone(),
            message,
        }
    }

    /// An error object sent mid-stream, as the status it would have had up front.
    fn service_error(&self, error: &Value) -> ProviderError {
        let kind = error["type"].as_str().unwrap_or_default();
        let status = error["code"]
            .as_u64()
            .filter(|c| (400..600).contains(c))
            .map(|c| c as u16)
            .unwrap_or(
                if kind.contains("rate_limit") || error["code"] == "rate_limit_exceeded" {
                    429
                } else if kind == "invalid_request_error" {
                    400
                } else {
                    500
                },
            );
        ProviderError::Status {
            provider: self.provider.clone(),
            status,
            body: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
