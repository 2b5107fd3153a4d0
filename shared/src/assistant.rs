//! An assistant's provider and tool settings, as the API stores them and the worker
//! receives them in its job.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LlmConfig {
    /// `openai`, or any OpenAI-compatible provider name (`groq`, `xai`, `vllm`, `ollama`).
    pub provider: String,
    pub model: String,
    #[serde(default = "default_temperature")]
    pub temperature: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SttConfig {
    /// `deepgram` or `openai`.
    pub provider: String,
    pub model: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TtsConfig {
    /// `elevenlabs`, `openai` or `deepgram`.
    pub provider: String,
    pub voice: String,
    pub model: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolsConfig {
    /// The agent may hang up by itself (default true).
    #[serde(default = "default_true")]
    pub end_call: bool,
    /// E.164 number the agent may transfer the callee to.
    pub transfer_to: Option<String>,
    /// A text the agent may send the other party during the call (`send_sms`), such as a
    /// confirmation; `{{placeholders}}` are filled from the call's variables.
    #[serde(default)]
    pub sms_message: Option<String>,
}

pub fn default_temperature() -> f32 {
    0.7
}

fn default_true() -> bool {
    true
}
