//! The agent's side: starting replies (the first message, answers, fixed phrases), the
//! LLM stream cut into clauses, TTS per clause, tools, pacing audio out, and what the
//! history keeps when a reply ends or is interrupted.

use super::{AfterReply, LlmStream, PendingClause, Session, Speaking};
use crate::audio::recording::Track;
use crate::audio::{FRAME_MS, FRAME_SAMPLES};
use crate::pipeline::clauses::ClauseSplitter;
use crate::pipeline::latency::TurnClock;
use crate::pipeline::phrases::PhraseKey;
use crate::pipeline::reply::Reply;
use crate::pipeline::tools::{self, Tool};
use crate::providers::{ChatMessage, LlmEvent, LlmRequest, ProviderError, TtsRequest, TtsStream};
use crate::transport::Transport;
use futures::StreamExt;
use shared::events::{EventKind, Speaker};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

impl Session {
    pub(super) fn new_speaking(&mut self, after: AfterReply, is_turn: bool) -> Speaking {
        let id = self.next_reply_id;
        self.next_reply_id += 1;
        Speaking {
            reply: Reply::new(id),
            queue: VecDeque::new(),
            splitter: ClauseSplitter::default(),
            generated: true,
            tool_calls: Vec::new(),
            tool_results: Vec::new(),
            round: 0,
            round_text: false,
            after,
            synth_cache: None,
            started_ms: None,
            is_turn,
        }
    }

    pub(super) fn phrase_key(&self, text: &str) -> PhraseKey {
        PhraseKey {
            provider: self.job.tts.provider.clone(),
            voice: self.job.tts.voice.clone(),
            model: self.job.tts.model.clone(),
            text: text.to_string(),
        }
    }

    /// Says a fixed phrase (cached per voice), then does `after`.
    pub(super) fn speak_phrase(&mut self, text: &str, after: AfterReply) {
        let mut speaking = self.new_speaking(after, false);
        speaking.queue.push_back(PendingClause {
            text: text.to_string(),
            cache: Some(self.phrase_key(text)),
        });
        self.speaking = Some(speaking);
    }

    pub(super) fn speak_first_message(&mut self) {
        if let Some(text) = self
            .job
            .first_message
            .clone()
            .filter(|t| !t.trim().is_empty())
        {
            self.speak_phrase(&text, AfterReply::Listen);
        }
    }

    /// Synthesises the phrases a call may need in a hurry (above all the apology, for
    /// when a provider fails mid-call) in the background, once per voice per process.
    pub(super) fn prewarm_phrases(&self) {
        let phrases = &self.config.phrases;
        let mut texts = vec![
            phrases.apology.clone(),
            phrases.reprompt.clone(),
            phrases.silence_goodbye.clone(),
        ];
        texts.extend(self.job.voicemail_message.clone());
        let missing: Vec<PhraseKey> = texts
            .iter()
            .map(|t| self.phrase_key(t))
            .filter(|k| self.phrases.get(k).is_none())
            .collect();
        if missing.is_empty() {
            return;
        }
        let (cache, tts) = (self.phrases.clone(), self.tts.clone());
        tokio::spawn(async move {
            for key in missing {
                if let Err(error) = cache.get_or_synthesize(key, tts.as_ref()).await {
                    tracing::debug!(%error, "could not prewarm a phrase");
                }
            }
        });
    }

    /// Whether the callee can hear (or is about to hear) the agent.
    pub(super) fn agent_audible(&self) -> bool {
        self.speaking
            .as_ref()
            .is_some_and(|s| s.reply.in_flight() || s.reply.unsent_frames() > 0)
    }

    /// Whether the TTS stream may be polled (the reply's buffer has room).
    pub(super) fn wants_audio(&self) -> bool {
        let max_frames = (self.config.max_buffered_ms / FRAME_MS) as usize;
        self.speaking
            .as_ref()
            .is_some_and(|s| s.reply.unsent_frames() < max_frames)
    }

    /// When the pacer next wants to run.
    pub(super) fn pace_deadline(&self, now: Instant) -> Option<Instant> {
        let speaking = self.speaking.as_ref()?;
        if self.pause.is_some() || !speaking.reply.has_output() {
            return None;
        }
        let frames = self.frames_per_message as u32;
        Some(self.pacer.next_due_for(now, frames).unwrap_or(now).max(now))
    }

    /// Everything that follows from the state after an event: start a turn, start the
    /// next clause's synthesis, send due audio.
    pub(super) async fn drive(
        &mut self,
        transport: &mut dyn Transport,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
        now: Instant,
    ) {
        if std::mem::take(&mut self.cancel_streams) {
            *llm = None;
            *tts = None;
        }
        if self.ending.is_none()
            && !self.taken_over
            && self.pause.is_none()
            && !self.voicemail_pending
            && self.callee.is_complete(self.config.turn_end)
        {
            if self.agent_audible() {
                // The callee finished a turn over the agent without the VAD noticing.
                let onset = self.speech_onset.unwrap_or(now);
                self.clear_agent(onset, now, transport).await;
            }
            // Whatever the agent was preparing is overtaken by the callee's turn.
            self.interrupt(llm, tts);
            self.start_turn(llm, now);
        }
        self.next_clause(tts);
        self.pump(transport, now).await;
        if self.speaking.as_ref().is_some_and(|s| {
            s.generated && s.queue.is_empty() && tts.is_none() && s.reply.fully_heard()
        }) {
            self.reply_done(now).await;
        }
        self.flush_reports().await;
    }

    /// The callee's turn is over: ask the model.
    fn start_turn(&mut self, llm: &mut Option<LlmStream>, now: Instant) {
        let turn = self.callee.take();
        self.detecting_voicemail = false;
        self.silence_deadline = None;
        self.turn_clock = TurnClock {
            speech_end: turn.last_speech_at,
            vad_end: turn.vad_end_at,
            turn_end: Some(self.event_at),
            stt_final: turn.last_final_at,
            ..TurnClock::default()
        };
        self.history.push(ChatMessage::User(turn.text()));
        let mut speaking = self.new_speaking(AfterReply::Listen, true);
        speaking.generated = false;
        self.speaking = Some(speaking);
        self.request_llm(llm, now);
    }

    fn request_llm(&mut self, llm: &mut Option<LlmStream>, now: Instant) {
        if let Some(speaking) = self.speaking.as_mut() {
            speaking.round += 1;
            speaking.round_text = false;
            speaking.generated = false;
        }
        self.turn_clock.llm_request.get_or_insert(now);
        let request = LlmRequest {
            model: self.job.llm.model.clone(),
            temperature: self.job.llm.temperature,
            messages: self.history.clone(),
            tools: self.tools.clone(),
        };
        let provider = self.llm.clone();
        // The request itself runs inside the stream, so the session never waits on it.
        let stream = futures::stream::once(async move { provider.stream(request).await })
            .flat_map(|opened| match opened {
                Ok(stream) => stream,
                Err(error) => futures::stream::once(async move { Err(error) }).boxed(),
            })
            .boxed();
        *llm = Some(stream);
    }

    /// One item from the model.
    pub(super) fn on_llm(
        &mut self,
        event: Option<Result<LlmEvent, ProviderError>>,
        llm: &mut Option<LlmStream>,
    ) {
        let now = Instant::now();
        let Some(speaking) = self.speaking.as_mut() else {
            *llm = None;
            return;
        };
        match event {
            Some(Ok(LlmEvent::Token(token))) => {
                self.turn_clock.llm_first_token.get_or_insert(now);
                speaking.round_text |= !token.trim().is_empty();
                for text in speaking.splitter.push(&token) {
                    speaking
                        .queue
                        .push_back(PendingClause { text, cache: None });
                    if speaking.is_turn {
                        self.turn_clock.first_clause.get_or_insert(now);
                    }
                }
            }
            Some(Ok(LlmEvent::ToolCall(call))) => {
                self.turn_clock.llm_first_token.get_or_insert(now);
                self.on_tool_call(call);
            }
            Some(Ok(LlmEvent::Usage { .. })) => {}
            None => {
                *llm = None;
                self.round_done(llm, now);
            }
            Some(Err(error)) => {
                *llm = None;
                tracing::warn!(%error, "the language model failed");
                let spoke = speaking.reply.has_audio() || !speaking.queue.is_empty();
                if spoke {
                    if let Some(rest) = speaking.splitter.finish() {
                        speaking.queue.push_back(PendingClause {
                            text: rest,
                            cache: None,
                        });
                    }
                    speaking.generated = true;
                }
                self.fail("llm_failed");
            }
        }
    }

    /// The model finished a round: flush the last clause, or ask again after tools.
    fn round_done(&mut self, llm: &mut Option<LlmStream>, now: Instant) {
        let max_rounds = self.config.max_tool_rounds;
        let Some(speaking) = self.speaking.as_mut() else {
            return;
        };
        if let Some(rest) = speaking.splitter.finish() {
            speaking.queue.push_back(PendingClause {
                text: rest,
                cache: None,
            });
            if speaking.is_turn {
                self.turn_clock.first_clause.get_or_insert(now);
            }
        }
        let tools_only = !speaking.round_text && !speaking.tool_calls.is_empty();
        if tools_only && speaking.after == AfterReply::Listen && speaking.round < max_rounds {
            // Tell the model what its tools did and let it go on.
            let calls = std::mem::take(&mut speaking.tool_calls);
            let results = std::mem::take(&mut speaking.tool_results);
            self.history.push(ChatMessage::Assistant {
                content: None,
                tool_calls: calls,
            });
            for (call_id, content) in results {
                self.history.push(ChatMessage::Tool { call_id, content });
            }
            self.request_llm(llm, now);
            return;
        }
        speaking.generated = true;
    }

    /// Carries out a tool call and records its result for the history.
    fn on_tool_call(&mut self, call: crate::providers::ToolCall) {
        let arguments = serde_json::from_str(&call.arguments)
            .unwrap_or_else(|_| serde_json::Value::String(call.arguments.clone()));
        let mut reports = vec![EventKind::ToolCall {
            name: call.name.clone(),
            arguments,
        }];
        let result = match tools::parse(&call, &self.job) {
            Ok(tool) => {
                let mut after = None;
                match tool {
                    Tool::EndCall => after = Some(AfterReply::End("agent_ended".into())),
                    Tool::TransferCall { to } => after = Some(AfterReply::Transfer(to)),
                    Tool::SetOutcome { outcome, notes } => {
                        reports.push(EventKind::Outcome { outcome, notes })
                    }
                    Tool::ScheduleCallback { at } => {
                        reports.push(EventKind::ScheduleCallback { at })
                    }
                    Tool::AddToDnc { reason } => reports.push(EventKind::AddToDnc { reason }),
                    Tool::LeaveVoicemail => self.voicemail_pending = true,
                    Tool::SendSms { body } => reports.push(EventKind::SendSms { body }),
                }
                if let (Some(after), Some(speaking)) = (after, self.speaking.as_mut()) {
                    speaking.after = after;
                }
                "done".to_string()
            }
            Err(error) => {
                tracing::info!(%error, "the model's tool call was refused");
                format!("error: {error}")
            }
        };
        if let Some(speaking) = self.speaking.as_mut() {
            speaking.tool_results.push((call.id.clone(), result));
            speaking.tool_calls.push(call);
        }
        self.pending_reports.extend(reports);
    }

    /// Starts synthesising the next clause when none is in progress.
    fn next_clause(&mut self, tts: &mut Option<TtsStream>) {
        if tts.is_some() {
            return;
        }
        let Some(speaking) = self.speaking.as_mut() else {
            return;
        };
        let Some(clause) = speaking.queue.pop_front() else {
            return;
        };
        speaking.reply.begin_clause(&clause.text);
        if let Some(key) = &clause.cache {
            if let Some(audio) = self.phrases.get(key) {
                speaking.reply.push_audio(&audio);
                speaking.reply.end_clause();
                return;
            }
        }
        speaking.synth_cache = clause.cache.map(|key| (key, Vec::new()));
        if speaking.is_turn {
            self.turn_clock.tts_request.get_or_insert(Instant::now());
        }
        let request = TtsRequest {
            text: clause.text,
            voice: self.job.tts.voice.clone(),
            model: self.job.tts.model.clone(),
        };
        let provider = self.tts.clone();
        let stream = futures::stream::once(async move { provider.synthesize(request).await })
            .flat_map(|opened| match opened {
                Ok(stream) => stream,
                Err(error) => futures::stream::once(async move { Err(error) }).boxed(),
            })
            .boxed();
        *tts = Some(stream);
    }

    /// A piece of synthesised audio (or the clause's end).
    pub(super) fn on_tts(
        &mut self,
        chunk: Option<Result<bytes::Bytes, ProviderError>>,
        tts: &mut Option<TtsStream>,
    ) {
        let Some(speaking) = self.speaking.as_mut() else {
            *tts = None;
            return;
        };
        match chunk {
            Some(Ok(audio)) => {
                if speaking.is_turn {
                    self.turn_clock.tts_first_byte.get_or_insert(Instant::now());
                }
                speaking.reply.push_audio(&audio);
                if let Some((_, cached)) = speaking.synth_cache.as_mut() {
                    cached.extend_from_slice(&audio);
                }
            }
            None => {
                *tts = None;
                speaking.reply.end_clause();
                if let Some((key, audio)) = speaking.synth_cache.take() {
                    self.phrases.put(key, audio.into());
                }
            }
            Some(Err(error)) => {
                *tts = None;
                tracing::warn!(%error, "speech synthesis failed");
                speaking.synth_cache = None;
                speaking.reply.abandon_clause();
                if !speaking.reply.has_audio() {
                    speaking.queue.clear();
                    speaking.generated = true;
                    self.fail("tts_failed");
                }
            }
        }
    }

    /// Sends what the pacer allows.
    async fn pump(&mut self, transport: &mut dyn Transport, now: Instant) {
        if self.pause.is_some() {
            return;
        }
        let at_ms = self.at_ms(now);
        let Some(speaking) = self.speaking.as_mut() else {
            return;
        };
        let per_message = self.frames_per_message;
        loop {
            if let Some(mark) = speaking.reply.take_mark() {
                if transport.send_mark(&mark).await.is_err() {
                    return;
                }
                continue;
            }
            if !self.pacer.may_send_frames(now, per_message as u32) {
                break;
            }
            let buffered = self.pacer.buffered(now);
            let Some(audio) = speaking.reply.next_frames(per_message) else {
                break;
            };
            if transport.send_audio(audio).await.is_err() {
                return;
            }
            let frames = audio.len() / FRAME_SAMPLES;
            if let Some(recorder) = self.recorder.as_mut() {
                let slot = (now + buffered)
                    .saturating_duration_since(self.started)
                    .as_millis() as u64
                    / FRAME_MS;
                for (i, frame) in audio.chunks_exact(FRAME_SAMPLES).enumerate() {
                    recorder.push(Track::Agent, slot + i as u64, frame);
                }
            }
            self.pacer.sent_frames(now, frames as u32);
            speaking.started_ms.get_or_insert(at_ms);
            self.latency.first_audio(at_ms);
            if speaking.is_turn {
                self.turn_clock.first_audio.get_or_insert(now);
            }
        }
        if !transport.echoes_marks() {
            speaking.reply.assume_sent_is_heard();
        }
    }

    /// The reply played to the end: keep it in the history and do what it asked.
    async fn reply_done(&mut self, now: Instant) {
        let after = self
            .speaking
            .as_ref()
            .map(|s| s.after.clone())
            .unwrap_or(AfterReply::Listen);
        self.finish_reply();
        self.flush_reports().await;
        match after {
            AfterReply::Listen => {
                if self.ending.is_none() && !self.voicemail_pending {
                    self.silence_deadline =
                        Some(now + Duration::from_millis(self.config.silence_timeout_ms));
                }
            }
            AfterReply::End(reason) => self.end_after_reply(&reason),
            AfterReply::Transfer(to) => {
                self.report(EventKind::Transfer { to }).await;
                self.ending.get_or_insert_with(|| "transferred".into());
                self.ending_since.get_or_insert(now);
            }
        }
    }

    /// Closes the current reply: the history gets what the callee heard, the control
    /// plane its transcript, the latency records its turn.
    pub(super) fn finish_reply(&mut self) {
        let Some(speaking) = self.speaking.take() else {
            return;
        };
        let heard = speaking.reply.heard_text();
        if !heard.is_empty() || !speaking.tool_calls.is_empty() {
            self.history.push(ChatMessage::Assistant {
                content: (!heard.is_empty()).then(|| heard.clone()),
                tool_calls: speaking.tool_calls.clone(),
            });
            for (call_id, content) in &speaking.tool_results {
                self.history.push(ChatMessage::Tool {
                    call_id: call_id.clone(),
                    content: content.clone(),
                });
            }
        }
        if !heard.is_empty() {
            let start_ms = speaking.started_ms.unwrap_or_default();
            self.pending_reports.push(EventKind::Transcript {
                speaker: Speaker::Agent,
                text: heard,
                start_ms,
                end_ms: start_ms + speaking.reply.heard_ms() as i64,
                confidence: None,
            });
        }
        if speaking.is_turn {
            let clock = std::mem::take(&mut self.turn_clock);
            self.latency.finish_turn(&clock);
        }
    }

    /// The callee took the floor: cancel generation and synthesis (dropping the streams
    /// closes their requests) and keep only what was heard.
    pub(super) fn interrupt(&mut self, llm: &mut Option<LlmStream>, tts: &mut Option<TtsStream>) {
        *llm = None;
        *tts = None;
        self.pause = None;
        if let Some(speaking) = self.speaking.as_mut() {
            // Ending or transferring was conditional on the reply being heard.
            speaking.after = AfterReply::Listen;
        }
        self.finish_reply();
        self.pacer.reset();
    }

    /// The callee went on talking before anything of the reply was heard: drop it and put
    /// the callee's words back, so the whole turn is answered at once.
    pub(super) fn retract_reply(
        &mut self,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        let Some(speaking) = self.speaking.take() else {
            return;
        };
        *llm = None;
        *tts = None;
        if !speaking.tool_calls.is_empty() {
            // Its tools already ran; keep the record consistent.
            self.speaking = Some(speaking);
            self.finish_reply();
        } else if let Some(ChatMessage::User(text)) = self.history.last().cloned() {
            self.history.pop();
            let now = Instant::now();
            self.callee.add_final(&text, false, now);
            self.callee.speech_resumed();
            self.turn_clock = TurnClock::default();
        }
    }

    /// Leaves the voicemail message once the greeting and beep are over.
    pub(super) fn leave_voicemail(&mut self) {
        self.voicemail_pending = false;
        match self.job.voicemail_message.clone() {
            Some(message) => self.speak_phrase(&message, AfterReply::End("voicemail".into())),
            None => self.end_now("voicemail"),
        }
    }
}
