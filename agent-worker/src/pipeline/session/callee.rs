//! The callee's side: audio in (recording, VAD, STT), transcripts, turn ends, barge-in
//! and backchannels, DTMF, and the voicemail greeting.

use super::{LlmStream, Pause, Session};
use crate::audio::recording::Track;
use crate::audio::vad::SpeechEvent;
use crate::pipeline::config::Backchannel;
use crate::pipeline::voicemail;
use crate::providers::{SttEvent, SttInput, TtsStream};
use crate::transport::Transport;
use bytes::Bytes;
use shared::events::{EventKind, Speaker};
use std::time::{Duration, Instant};

/// How long after the last speech frame beyond the endpointing every frame is forwarded
/// at once (the provider's final waits for that silence).
const STT_TAIL_MS: u64 = 200;

impl Session {
    /// One 20 ms frame of the callee's audio.
    pub(super) async fn on_callee_audio(
        &mut self,
        frame: &Bytes,
        transport: &mut dyn Transport,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        let now = Instant::now();
        self.event_at = now;
        let slot = self.callee_frames;
        self.callee_frames += 1;
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.push(Track::Callee, slot, frame);
        }
        // A frame of the wrong size (never from Twilio) is skipped by the VAD, not fatal.
        let event = self.vad.push(frame).ok().flatten();
        if self.stt_input.is_some() {
            let speech = self.vad.last_frame_is_speech();
            self.stt_batch.extend_from_slice(frame);
            self.stt_batch_speech |= speech;
            // Right after speech every frame goes at once: the provider's endpointing
            // (and so the turn's end) waits for that silence.
            let tail = !speech
                && self.callee.last_speech_at.is_some_and(|t| {
                    now.duration_since(t)
                        < Duration::from_millis(self.config.stt_endpointing_ms + STT_TAIL_MS)
                });
            // Callee audio goes in `stt_chunk_ms` inputs (100 ms: a fifth of the channel
            // hops, task wake-ups and provider messages of frame-by-frame forwarding).
            if tail || self.stt_batch.len() >= self.stt_chunk_bytes {
                self.flush_stt_audio();
            }
        }
        if self.vad.last_frame_is_speech() {
            self.callee.last_speech_at = Some(now);
        }
        match event {
            Some(SpeechEvent::SpeechStart { at_ms }) => {
                let back = Duration::from_millis(
                    ((slot + 1) * crate::audio::FRAME_MS).saturating_sub(at_ms),
                );
                let onset = now.checked_sub(back).unwrap_or(now);
                self.on_speech_start(onset, now, transport, llm, tts).await;
            }
            Some(SpeechEvent::SpeechEnd { .. }) => self.on_speech_end(now),
            None => {}
        }
        if self.callee_speaking {
            self.check_interruption(now, transport, llm, tts).await;
        }
        if self.voicemail_pending && !self.callee_speaking {
            let quiet = self
                .callee
                .last_speech_at
                .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(800));
            if quiet {
                self.leave_voicemail();
            }
        }
    }

    /// Hands the batched callee audio to the STT session as one input. The buffer's
    /// memory comes back for the next batch once the STT side has dropped this one.
    pub(super) fn flush_stt_audio(&mut self) {
        if self.stt_batch.is_empty() {
            return;
        }
        let mulaw = self.stt_batch.split().freeze();
        let speech = std::mem::take(&mut self.stt_batch_speech);
        self.stt_batch.reserve(self.stt_chunk_bytes);
        if let Some(input) = &self.stt_input {
            let frames = (mulaw.len() / crate::audio::FRAME_SAMPLES) as u64;
            if input.try_send(SttInput::Audio { mulaw, speech }).is_err() {
                self.stt_dropped += frames;
            }
        }
    }

    async fn on_speech_start(
        &mut self,
        onset: Instant,
        now: Instant,
        transport: &mut dyn Transport,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        self.callee_speaking = true;
        self.speech_onset = Some(onset);
        self.callee.speech_resumed();
        self.silence_deadline = None;
        if self.ending.is_some() || self.voicemail_pending {
            return;
        }
        if let Some(pause) = self.pause.as_mut() {
            // Still talking after a pause: the decision waits for the speech to end.
            pause.decide_at = None;
            return;
        }
        if self.agent_audible() {
            if self.config.backchannel == Backchannel::PauseResume {
                self.pause_agent(onset, now, transport).await;
            }
        } else if self.speaking.as_ref().is_some_and(|s| s.is_turn) {
            // The callee went on talking while the reply was being prepared and nothing
            // was heard yet: drop it and answer the whole turn later.
            self.retract_reply(llm, tts);
        }
    }

    fn on_speech_end(&mut self, now: Instant) {
        self.callee_speaking = false;
        self.callee.vad_speech_end(now);
        if let Some(pause) = self.pause.as_mut() {
            pause.decide_at = Some(now + Duration::from_millis(self.config.resume_after_ms));
        }
        // The speech's start stopped the silence count. If no words come of it (a cough, a
        // word lost on the line: the STT finals it empty), no turn starts to take over, so
        // the count starts again from here; a turn that does start clears it. Not while a
        // supervisor has taken the call over: the person talking then keeps the time.
        if self.speaking.is_none()
            && self.ending.is_none()
            && !self.voicemail_pending
            && !self.taken_over
        {
            self.silence_deadline =
                Some(now + Duration::from_millis(self.config.silence_timeout_ms));
        }
        if !self.callee.has_text() {
            // Ask the provider for its final now rather than after its own endpointing.
            self.flush_stt_audio();
            if let Some(input) = &self.stt_input {
                let _ = input.try_send(SttInput::Finalize);
            }
        }
    }

    /// Turns a pause (or, when backchannels are ignored, the agent's talk) into an
    /// interruption once the callee has clearly taken the floor.
    async fn check_interruption(
        &mut self,
        now: Instant,
        transport: &mut dyn Transport,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        let Some(onset) = self.speech_onset else {
            return;
        };
        // Measured to the last voiced frame: the VAD's closing silence is not speech.
        let last = self.callee.last_speech_at.unwrap_or(now);
        let spoken = last.saturating_duration_since(onset);
        if let Some(pause) = self.pause {
            if spoken >= Duration::from_millis(self.config.backchannel_max_ms)
                || self.callee.word_count() > pause.words_before + self.config.backchannel_max_words
            {
                self.interrupt(llm, tts);
            }
        } else if self.config.backchannel == Backchannel::Ignore
            && self.agent_audible()
            && spoken >= Duration::from_millis(self.config.min_interrupt_ms)
        {
            self.clear_agent(onset, now, transport).await;
            self.interrupt(llm, tts);
        }
    }

    /// Stops the agent's audio at once (clear), keeping the reply to resume.
    async fn pause_agent(&mut self, onset: Instant, now: Instant, transport: &mut dyn Transport) {
        self.clear_agent(onset, now, transport).await;
        self.pause = Some(Pause {
            decide_at: None,
            words_before: self.callee.word_count(),
        });
    }

    /// Clears what the far end holds and rewinds the reply to what was heard.
    pub(super) async fn clear_agent(
        &mut self,
        onset: Instant,
        now: Instant,
        transport: &mut dyn Transport,
    ) {
        if transport.clear().await.is_err() {
            return;
        }
        self.pacer.reset();
        if let Some(speaking) = self.speaking.as_mut() {
            speaking.reply.rewind();
        }
        let at = self.at_ms(onset) as u64;
        self.latency
            .barge_in(at, now.saturating_duration_since(onset));
    }

    /// A pause's decision time: resume after a backchannel, or give the callee the floor.
    pub(super) fn decide_pause(
        &mut self,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        let Some(pause) = self.pause.take() else {
            return;
        };
        let new_words = self.callee.word_count().saturating_sub(pause.words_before);
        if new_words > self.config.backchannel_max_words {
            self.pause = Some(pause);
            self.interrupt(llm, tts);
            return;
        }
        // A backchannel: forget its words (they were reported) and carry on.
        if new_words > 0 {
            self.callee.take();
        }
        self.callee.speech_resumed();
    }

    /// A final transcript, an end of utterance or speech start from the provider.
    pub(super) async fn on_stt(
        &mut self,
        event: SttEvent,
        transport: &mut dyn Transport,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        let now = Instant::now();
        self.event_at = now;
        match event {
            SttEvent::Final {
                text,
                start_ms,
                end_ms,
                confidence,
                speech_final,
            } => {
                if !text.trim().is_empty() {
                    // On the call's clock, like the agent's lines: from the VAD's onset to
                    // the last voiced frame (providers' own clocks drift and tile).
                    let end = self
                        .callee
                        .last_speech_at
                        .map_or_else(|| self.at_ms(now), |t| self.at_ms(t));
                    let spoken = end_ms.saturating_sub(start_ms) as i64;
                    let start = self
                        .speech_onset
                        .map(|t| self.at_ms(t))
                        .filter(|start| *start <= end)
                        .unwrap_or(end - spoken);
                    self.report(EventKind::Transcript {
                        speaker: Speaker::Callee,
                        text: text.clone(),
                        start_ms: start,
                        end_ms: end,
                        confidence,
                    })
                    .await;
                    if self.detecting_voicemail && voicemail::is_greeting(&text) {
                        self.voicemail_detected(transport, llm, tts).await;
                        return;
                    }
                }
                self.callee.add_final(&text, speech_final, now);
                if self.callee.has_text() && self.turn_clock.stt_final.is_none() {
                    self.turn_clock.stt_final = Some(now);
                }
                if self.pause.is_some() {
                    self.check_interruption(now, transport, llm, tts).await;
                } else if self.agent_audible() && self.callee.has_text() && !self.callee_speaking {
                    // Words arrived while the agent talked and the VAD did not notice: the
                    // callee still spoke over the agent.
                    let onset = self.speech_onset.unwrap_or(now);
                    if self.config.backchannel == Backchannel::PauseResume {
                        self.pause_agent(onset, now, transport).await;
                        if let Some(pause) = self.pause.as_mut() {
                            pause.words_before = 0;
                            pause.decide_at = Some(now);
                        }
                    }
                }
            }
            SttEvent::UtteranceEnd { .. } => self.callee.stt_utterance_end(),
            SttEvent::SpeechStarted { .. } | SttEvent::Interim { .. } => {}
        }
    }

    /// A mark came back from the far end.
    pub(super) fn on_mark(&mut self, name: &str) {
        if let Some(speaking) = self.speaking.as_mut() {
            speaking.reply.mark_played(name);
        }
    }

    /// A key press: the model hears it as words.
    pub(super) fn on_dtmf(&mut self, digit: char) {
        let now = Instant::now();
        self.event_at = now;
        self.callee
            .add_final(&format!("(pressed {digit})"), true, now);
        self.callee.last_speech_at = Some(now);
    }

    /// A voicemail greeting: stop talking, wait for the beep, leave the message.
    async fn voicemail_detected(
        &mut self,
        transport: &mut dyn Transport,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        self.detecting_voicemail = false;
        let now = Instant::now();
        if self.agent_audible() {
            self.clear_agent(now, now, transport).await;
        }
        self.interrupt(llm, tts);
        self.callee.take();
        // The greeting's end started the silence count; the beep and the message follow.
        self.silence_deadline = None;
        self.report(EventKind::Outcome {
            outcome: shared::CallOutcome::Voicemail,
            notes: Some(format!(
                "voicemail greeting detected {:.1} s after the answer",
                now.duration_since(self.started).as_secs_f64()
            )),
        })
        .await;
        self.voicemail_pending = true;
    }
}
