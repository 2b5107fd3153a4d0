//! Standalone mode: the worker takes Media Streams calls with no control plane, from an
//! assistant in a JSON file. For load tests, and for trying the worker on its own.

use anyhow::Context;
use serde::Deserialize;
use shared::assistant::{LlmConfig, SttConfig, ToolsConfig, TtsConfig};
use shared::job::{CallJob, CallLimits, CallMode};
use std::path::Path;
use uuid::Uuid;

/// The assistant file: what a job carries, minus the ids.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssistantFile {
    #[serde(default = "default_language")]
    language: String,
    system_prompt: String,
    first_message: Option<String>,
    voicemail_message: Option<String>,
    llm: LlmConfig,
    stt: SttConfig,
    tts: TtsConfig,
    tools: ToolsConfig,
    #[serde(default = "default_max_duration")]
    max_duration_sec: i32,
    budget_cents: Option<i32>,
}

fn default_language() -> String {
    "en-US".into()
}

fn default_max_duration() -> i32 {
    600
}

/// Reads the assistant file into a job template (each call gets its own id).
pub fn load_job(path: &Path) -> anyhow::Result<CallJob> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the assistant file {}", path.display()))?;
    let file: AssistantFile = serde_json::from_str(&text)
        .with_context(|| format!("parsing the assistant file {}", path.display()))?;
    Ok(CallJob {
        call_id: Uuid::nil(),
        org_id: Uuid::nil(),
        campaign_id: None,
        mode: CallMode::TwilioStream,
        to: String::new(),
        from: None,
        assistant_id: None,
        assistant_version: None,
        language: file.language,
        system_prompt: file.system_prompt,
        first_message: file.first_message,
        voicemail_message: file.voicemail_message,
        llm: file.llm,
        stt: file.stt,
        tts: file.tts,
        tools: file.tools,
        variables: Default::default(),
        limits: CallLimits {
            max_duration_sec: file.max_duration_sec,
            budget_cents: file.budget_cents,
        },
        events_url: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assistant_file_becomes_a_job_template() {
        let dir = std::env::temp_dir().join(format!("aw-standalone-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("assistant.json");
        std::fs::write(
            &path,
            r#"{"systemPrompt": "You are Ava.", "firstMessage": "Hi, this is Ava.",
                "llm": {"provider": "openai", "model": "gpt-4o-mini"},
                "stt": {"provider": "deepgram", "model": "nova-3"},
                "tts": {"provider": "elevenlabs", "voice": "Rachel", "model": null},
                "tools": {"endCall": true, "transferTo": null}}"#,
        )
        .unwrap();
        let job = load_job(&path).unwrap();
        assert_eq!(job.first_message.as_deref(), Some("Hi, this is Ava."));
        assert_eq!(job.limits.max_duration_sec, 600);
        assert!(load_job(&dir.join("missing.json")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
