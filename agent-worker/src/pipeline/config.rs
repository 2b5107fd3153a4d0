//! How conversations behave: turn taking, barge-in, silence, fixed phrases, pacing.

use crate::audio::vad::VadConfig;
use serde::Deserialize;

/// What ends the callee's turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnEnd {
    /// The STT provider's endpointing (`speech_final`, `UtteranceEnd`).
    Stt,
    /// The worker's VAD saw `vad_silence_ms` of silence after speech.
    Vad,
    /// Whichever comes first (with a final transcript in hand).
    Either,
}

/// What a short interjection ("mm-hm") while the agent talks does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backchannel {
    /// The agent stops at once (clear), and resumes where it stopped if the callee said
    /// nothing more than a backchannel.
    PauseResume,
    /// The agent keeps talking until the callee has spoken `min_interrupt_ms`.
    Ignore,
}

/// Conversation settings (the `[pipeline]` section).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PipelineConfig {
    pub turn_end: TurnEnd,
    /// The VAD: aggressiveness, speech onset and the silence that ends speech (and a
    /// turn, by VAD).
    pub vad: VadConfig,
    /// The STT provider's endpointing setting.
    pub stt_endpointing_ms: u64,
    pub backchannel: Backchannel,
    /// Callee speech longer than this while the agent talks is a real interruption.
    pub backchannel_max_ms: u64,
    /// A transcript longer than this many words is a real interruption.
    pub backchannel_max_words: usize,
    /// With `ignore`, speech this long interrupts the agent.
    pub min_interrupt_ms: u64,
    /// After a pause, how long to wait for a transcript before resuming.
    pub resume_after_ms: u64,
    /// Silence from the callee after the agent finished that triggers a re-prompt.
    pub silence_timeout_ms: u64,
    /// Re-prompts before ending the call politely.
    pub silence_reprompts: u32,
    /// How far ahead of real time audio is sent.
    pub pacer_lead_ms: u64,
    /// Synthesised audio held ahead of playout (backpressure on TTS).
    pub max_buffered_ms: u64,
    /// Agent audio per outbound media message, where the transport takes more than one
    /// 20 ms frame per message (Twilio does): fewer messages, less CPU per call.
    pub media_message_ms: u64,
    /// Callee audio per input to the STT session (frames right after speech still go
    /// one by one, so the provider's endpointing is not delayed).
    pub stt_chunk_ms: u64,
    /// Tool rounds per turn (a reply with only tool calls asks the model again).
    pub max_tool_rounds: u32,
    /// Wait for the callee's first words this long before the first message; 0 = speak at once.
    pub first_message_delay_ms: u64,
    pub phrases: Phrases,
}

/// The fixed things the agent says (synthesised once per voice and cached).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Phrases {
    pub reprompt: String,
    pub silence_goodbye: String,
    pub apology: String,
    pub max_duration: String,
    pub budget: String,
}

impl Default for Phrases {
    fn default() -> Self {
        Phrases {
            reprompt: "Are you still there?".into(),
            silence_goodbye: "It seems this is not a good time. Goodbye.".into(),
            apology: "Sorry, I am having technical trouble. We will call you back. Goodbye.".into(),
            max_duration: "I am afraid we are out of time. Thank you, goodbye.".into(),
            budget: "I have to end the call here. Thank you, goodbye.".into(),
        }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            turn_end: TurnEnd::Either,
            vad: VadConfig::default(),
            stt_endpointing_ms: 300,
            backchannel: Backchannel::PauseResume,
            backchannel_max_ms: 700,
            backchannel_max_words: 2,
            min_interrupt_ms: 500,
            resume_after_ms: 200,
            silence_timeout_ms: 8_000,
            silence_reprompts: 1,
            pacer_lead_ms: 200,
            max_buffered_ms: 10_000,
            media_message_ms: 60,
            stt_chunk_ms: 100,
            max_tool_rounds: 3,
            first_message_delay_ms: 0,
            phrases: Phrases::default(),
        }
    }
}
