//! What a supervisor asks of the conversation (`crate::supervision`): say a line, whisper
//! to the model, end, transfer, take the call over and hand it back.
//!
//! While taken over the agent is silent: no turn starts and no timer re-prompts; the
//! callee's audio still goes to the recording and STT (so the transcript keeps the
//! callee's words) and the supervisor's voice goes to the callee and the recording's
//! agent channel.

use super::{AfterReply, LlmStream, PendingClause, Session};
use crate::audio::recording::Track;
use crate::audio::FRAME_MS;
use crate::providers::{ChatMessage, TtsStream};
use crate::supervision::{Command, Input};
use crate::transport::Transport;
use shared::events::EventKind;
use std::time::{Duration, Instant};

/// How a whisper reaches the model: a system message the callee never hears.
const WHISPER_PREFIX: &str = "Supervisor note (the callee cannot hear this): ";
/// Told to the model when a supervisor hands the call back.
const HANDED_BACK: &str = "A human supervisor spoke with the callee for a while and has \
handed the call back to you. Continue the conversation.";

impl Session {
    pub(super) async fn on_supervisor(
        &mut self,
        input: Input,
        transport: &mut dyn Transport,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        let command = match input {
            Input::Audio { frame, speech } => {
                if self.taken_over {
                    if speech {
                        self.supervisor_spoke_at = Some(Instant::now());
                    }
                    self.supervisor_voice(&frame, transport).await;
                }
                return;
            }
            Input::Command(command) => command,
        };
        tracing::info!(?command, "supervisor control");
        if self.ending.is_some() {
            return;
        }
        let now = Instant::now();
        match command {
            Command::Whisper(text) => {
                self.history
                    .push(ChatMessage::System(format!("{WHISPER_PREFIX}{text}")));
            }
            Command::Say(text) => {
                self.cut_in(now, transport, llm, tts).await;
                self.silence_deadline = None;
                let mut speaking = self.new_speaking(AfterReply::Listen, false);
                speaking
                    .queue
                    .push_back(PendingClause { text, cache: None });
                self.speaking = Some(speaking);
            }
            Command::End => {
                self.cut_in(now, transport, llm, tts).await;
                self.end_now("supervisor_ended");
            }
            Command::Transfer(to) => {
                self.cut_in(now, transport, llm, tts).await;
                // The same path as the agent's transfer tool: the control plane dials.
                self.pending_reports.push(EventKind::Transfer { to });
                self.ending.get_or_insert_with(|| "transferred".into());
                self.ending_since.get_or_insert(now);
            }
            Command::TakeOver => {
                self.cut_in(now, transport, llm, tts).await;
                self.taken_over = true;
                self.supervisor_spoke_at = None;
                self.silence_deadline = None;
                self.detecting_voicemail = false;
            }
            Command::HandBack => {
                if !std::mem::replace(&mut self.taken_over, false) {
                    return;
                }
                // The supervisor answered what the callee said before the supervisor's
                // last words; words after them (or with no words from the supervisor at
                // all) still wait for an answer, which the agent gives now.
                let answered = match (self.callee.last_speech_at, self.supervisor_spoke_at) {
                    (Some(callee), Some(supervisor)) => callee <= supervisor,
                    (Some(_), None) => false,
                    (None, _) => true,
                };
                if answered {
                    self.callee.take();
                } else {
                    tracing::info!("the callee spoke after the supervisor: the agent answers");
                }
                self.history.push(ChatMessage::System(HANDED_BACK.into()));
                self.silence_deadline =
                    Some(now + Duration::from_millis(self.config.silence_timeout_ms));
            }
        }
    }

    /// Stops the agent at once: clear what the far end holds, keep what was heard.
    async fn cut_in(
        &mut self,
        now: Instant,
        transport: &mut dyn Transport,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        if self.agent_audible() {
            self.clear_agent(now, now, transport).await;
        }
        self.interrupt(llm, tts);
    }

    /// 20 ms of the supervisor's voice for the callee (and the recording).
    async fn supervisor_voice(&mut self, frame: &[u8], transport: &mut dyn Transport) {
        if transport.send_audio(frame).await.is_err() {
            return;
        }
        let slot = self.at_ms(Instant::now()).max(0) as u64 / FRAME_MS;
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.push(Track::Agent, slot, frame);
        }
    }
}
