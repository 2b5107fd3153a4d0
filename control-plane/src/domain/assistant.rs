//! An assistant's definition: prompt, first message, voice, providers, tools.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, Validator};
use shared::assistant::default_temperature;
pub use shared::assistant::{LlmConfig, SttConfig, ToolsConfig, TtsConfig};
use shared::PhoneNumber;

/// What an API client sends to create or update an assistant.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssistantInput {
    pub name: String,
    /// Template with `{{variable}}` placeholders filled from the contact and campaign.
    pub system_prompt: String,
    pub first_message: Option<String>,
    /// BCP 47 tag, default `en-US`.
    pub language: Option<String>,
    pub llm: Option<LlmConfig>,
    pub stt: Option<SttConfig>,
    pub tts: Option<TtsConfig>,
    pub voicemail_message: Option<String>,
    /// Longest call, 30 to 7200 seconds (default 600).
    pub max_duration_sec: Option<i32>,
    pub tools: Option<ToolsConfig>,
}

/// The stored, complete definition (defaults applied); the API shows it as is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AssistantDefinition {
    pub system_prompt: String,
    pub first_message: Option<String>,
    pub language: String,
    pub llm: LlmConfig,
    pub stt: SttConfig,
    pub tts: TtsConfig,
    pub voicemail_message: Option<String>,
    pub max_duration_sec: i32,
    pub tools: ToolsConfig,
    /// The placeholders the prompt and first message use.
    pub variables: Vec<String>,
}

/// Longest system prompt, in characters (about 5,000 tokens: every turn sends it).
pub const MAX_SYSTEM_PROMPT: usize = 20_000;
/// Longest first or voicemail message, in characters (spoken aloud: minutes of speech).
pub const MAX_SPOKEN_MESSAGE: usize = 2_000;

const LLM_PROVIDERS: &[&str] = &[
    "openai", "groq", "xai", "together", "vllm", "ollama", "custom",
];
const STT_PROVIDERS: &[&str] = &["deepgram", "openai"];
const TTS_PROVIDERS: &[&str] = &["elevenlabs", "openai", "deepgram"];

impl AssistantInput {
    /// Validates every field at once and fills in defaults.
    pub fn into_definition(self) -> Result<(String, AssistantDefinition), ApiError> {
        let mut v = Validator::new();
        let name = self.name.trim().to_string();
        v.check(!name.is_empty(), "name", "must not be empty")
            .check(name.len() <= 200, "name", "must be at most 200 characters")
            .check(
                !self.system_prompt.trim().is_empty(),
                "systemPrompt",
                "must not be empty",
            )
            .check(
                self.system_prompt.chars().count() <= MAX_SYSTEM_PROMPT,
                "systemPrompt",
                format!("must be at most {MAX_SYSTEM_PROMPT} characters"),
            );
        for (field, text) in [
            ("firstMessage", &self.first_message),
            ("voicemailMessage", &self.voicemail_message),
        ] {
            v.check(
                text.as_ref()
                    .is_none_or(|t| t.chars().count() <= MAX_SPOKEN_MESSAGE),
                field,
                format!("must be at most {MAX_SPOKEN_MESSAGE} characters"),
            );
        }
        let mut variables = std::collections::BTreeSet::new();
        for (field, text) in [
            ("systemPrompt", Some(&self.system_prompt)),
            ("firstMessage", self.first_message.as_ref()),
        ] {
            if let Some(text) = text {
                match shared::template::placeholders(text) {
                    Ok(names) => variables.extend(names),
                    Err(err) => v.push(field, err.to_string()),
                }
            }
        }
        let llm = self.llm.unwrap_or(LlmConfig {
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            temperature: default_temperature(),
        });
        v.check(
            LLM_PROVIDERS.contains(&llm.provider.as_str()),
            "llm.provider",
            format!("must be one of {}", LLM_PROVIDERS.join(", ")),
        )
        .check(
            !llm.model.trim().is_empty(),
            "llm.model",
            "must not be empty",
        )
        .check(
            (0.0..=2.0).contains(&llm.temperature),
            "llm.temperature",
            "must be between 0 and 2",
        );
        let stt = self.stt.unwrap_or(SttConfig {
            provider: "deepgram".into(),
            model: "nova-3".into(),
        });
        v.check(
            STT_PROVIDERS.contains(&stt.provider.as_str()),
            "stt.provider",
            format!("must be one of {}", STT_PROVIDERS.join(", ")),
        )
        .check(
            !stt.model.trim().is_empty(),
            "stt.model",
            "must not be empty",
        );
        let tts = self.tts.unwrap_or(TtsConfig {
            provider: "elevenlabs".into(),
            voice: "21m00Tcm4TlvDq8ikWAM".into(),
            model: Some("eleven_flash_v2_5".into()),
        });
        v.check(
            TTS_PROVIDERS.contains(&tts.provider.as_str()),
            "tts.provider",
            format!("must be one of {}", TTS_PROVIDERS.join(", ")),
        )
        .check(
            !tts.voice.trim().is_empty(),
            "tts.voice",
            "must not be empty",
        );
        let max_duration_sec = self.max_duration_sec.unwrap_or(600);
        v.check(
            (30..=7200).contains(&max_duration_sec),
            "maxDurationSec",
            "must be between 30 and 7200",
        );
        let mut tools = self.tools.unwrap_or(ToolsConfig {
            end_call: true,
            transfer_to: None,
            sms_message: None,
        });
        tools.sms_message = tools.sms_message.filter(|m| !m.trim().is_empty());
        if let Some(sms) = &tools.sms_message {
            v.check(
                sms.chars().count() <= crate::sms::send::MAX_BODY,
                "tools.smsMessage",
                format!("must be at most {} characters", crate::sms::send::MAX_BODY),
            );
            if let Err(err) = shared::template::placeholders(sms) {
                v.push("tools.smsMessage", err.to_string());
            }
        }
        if let Some(raw) = &tools.transfer_to {
            match PhoneNumber::parse(raw, None) {
                Ok(number) => tools.transfer_to = Some(number.to_string()),
                Err(err) => v.push(
                    "tools.transferTo",
                    format!("{err} (use E.164, +country...)"),
                ),
            }
        }
        let language = self.language.unwrap_or_else(|| "en-US".into());
        v.check(
            !language.trim().is_empty() && language.len() <= 35,
            "language",
            "must be a language tag such as en-US",
        );
        v.finish()?;
        Ok((
            name,
            AssistantDefinition {
                system_prompt: self.system_prompt,
                first_message: self.first_message.filter(|m| !m.trim().is_empty()),
                language,
                llm,
                stt,
                tts,
                voicemail_message: self.voicemail_message.filter(|m| !m.trim().is_empty()),
                max_duration_sec,
                tools,
                variables: variables.into_iter().collect(),
            },
        ))
    }
}
