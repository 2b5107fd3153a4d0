//! The language model: streaming chat completions with tool calls.

use super::ProviderError;
use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::Value;

pub mod openai;
pub mod sse;

/// One message of the conversation, as chat completions know them.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    System(String),
    User(String),
    /// What the agent said (only what the callee heard) and the tools it called.
    Assistant {
        content: Option<String>,
        tool_calls: Vec<ToolCall>,
    },
    /// A tool's result.
    Tool {
        call_id: String,
        content: String,
    },
}

/// A tool the model may call: a name, a description and JSON-schema parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// A complete tool call (its argument fragments joined).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them (JSON text, possibly invalid).
    pub arguments: String,
}

/// One request.
#[derive(Debug, Clone)]
pub struct LlmRequest {
    pub model: String,
    pub temperature: f32,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSpec>,
}

/// What the stream yields, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    /// A piece of the reply's text.
    Token(String),
    /// A tool call, complete (emitted once its arguments are all in).
    ToolCall(ToolCall),
    /// Token counts for the request (the last event before the stream ends, when the
    /// service reports usage).
    Usage {
        prompt_tokens: u64,
        completion_tokens: u64,
    },
}

/// A chat-completions provider.
#[async_trait]
pub trait Llm: Send + Sync {
    /// The provider's name for logs, metrics and costs.
    fn name(&self) -> &str;
    /// Starts a completion; the stream ends when the reply is complete.
    async fn stream(
        &self,
        request: LlmRequest,
    ) -> Result<BoxStream<'static, Result<LlmEvent, ProviderError>>, ProviderError>;
}
