//! `CallJob`: everything a worker needs to hold one call, fetched from the control plane
//! with the call's token.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::assistant::{LlmConfig, SttConfig, ToolsConfig, TtsConfig};

/// How the call reaches the phone network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallMode {
    TwilioStream,
    LivekitSip,
}

/// One call's job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CallJob {
    pub call_id: Uuid,
    pub org_id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub mode: CallMode,
    /// The callee (E.164).
    pub to: String,
    pub from: Option<String>,
    pub assistant_id: Option<Uuid>,
    pub assistant_version: Option<i32>,
    pub language: String,
    /// The system prompt with every known placeholder filled in.
    pub system_prompt: String,
    pub first_message: Option<String>,
    pub voicemail_message: Option<String>,
    pub llm: LlmConfig,
    pub stt: SttConfig,
    pub tts: TtsConfig,
    pub tools: ToolsConfig,
    /// The values the placeholders were filled from.
    pub variables: BTreeMap<String, String>,
    pub limits: CallLimits,
    /// Where to post `CallEvent`s (with the same token).
    pub events_url: String,
}

/// Limits the worker enforces.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CallLimits {
    pub max_duration_sec: i32,
    /// The call ends when its cost reaches this.
    pub budget_cents: Option<i32>,
}
