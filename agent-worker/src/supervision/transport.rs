//! The session's view of supervision: a [`Transport`] around the call's real one. It taps
//! the callee's audio and the agent's for the listen stream (only while somebody
//! listens), and delivers the supervisor's commands and voice as [`Inbound::Supervisor`]
//! items, so the session's one `select!` handles them like any other input. The voice
//! goes through a jitter buffer (`jitter.rs`), and a hand-back reaches the session only
//! after the supervisor's last words that came before it.

use super::jitter::VoiceBuffer;
use super::listen::{ListenMixer, SupervisorVoice};
use super::{CallLine, Command, Input, SessionEnd};
use crate::audio::vad::{Vad, VadMode};
use crate::transport::{Closed, Inbound, Transport};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// A call's transport with its supervision line attached.
pub struct SupervisedTransport<'a> {
    inner: &'a mut dyn Transport,
    line: Arc<CallLine>,
    commands: mpsc::Receiver<Command>,
    audio: mpsc::Receiver<Bytes>,
    mixer: ListenMixer,
    /// The mixer has state worth keeping (somebody listened at the last frame).
    mixing: bool,
    voice: SupervisorVoice,
    /// Supervisor frames converted but not yet handed over.
    voice_frames: VoiceBuffer,
    /// Tells the session which of the supervisor's frames are speech (whether they
    /// answered what the callee said, at hand-back).
    voice_vad: Vad,
    /// A hand-back waiting for the supervisor's last frames to go first.
    hand_back: Option<Command>,
    taken_over: bool,
    /// Keeps the line open for the session's life; dropping it closes the line.
    _guard: super::LineGuard,
}

impl<'a> SupervisedTransport<'a> {
    pub fn new(inner: &'a mut dyn Transport, end: SessionEnd) -> Self {
        let SessionEnd {
            line,
            commands,
            audio,
            _guard,
        } = end;
        Self {
            inner,
            line,
            commands,
            audio,
            mixer: ListenMixer::new(),
            mixing: false,
            voice: SupervisorVoice::new(),
            voice_frames: VoiceBuffer::default(),
            voice_vad: Vad::new(VadMode::default()),
            hand_back: None,
            taken_over: false,
            _guard,
        }
    }

    fn on_callee_frame(&mut self, frame: &[u8]) {
        if !self.line.has_listeners() {
            if self.mixing {
                tracing::debug!("nobody listens any more: the listen mixer stops");
                self.mixer.reset();
                self.mixing = false;
            }
            return;
        }
        if !self.mixing {
            tracing::debug!("somebody listens: the listen mixer starts");
        }
        self.mixing = true;
        for listen in self.mixer.callee(frame) {
            self.line.publish(listen);
        }
    }
}

#[async_trait]
impl Transport for SupervisedTransport<'_> {
    async fn recv(&mut self) -> Option<Inbound> {
        loop {
            let now = Instant::now();
            if let Some(frame) = self.voice_frames.pop(now) {
                let speech = self.voice_vad.is_speech(&frame).unwrap_or(false);
                return Some(Inbound::Supervisor(Input::Audio { frame, speech }));
            }
            if self.voice_frames.is_empty() {
                if let Some(command) = self.hand_back.take() {
                    return Some(Inbound::Supervisor(Input::Command(command)));
                }
            }
            let flush_at = self.voice_frames.deadline();
            tokio::select! {
                biased;
                inbound = self.inner.recv() => {
                    if let Some(Inbound::Audio(frame)) = &inbound {
                        self.on_callee_frame(frame);
                    }
                    return inbound;
                }
                Some(command) = self.commands.recv(), if self.hand_back.is_none() => {
                    match command {
                        Command::TakeOver => {
                            self.taken_over = true;
                            self.voice.reset();
                            self.voice_frames.reset();
                            self.voice_vad = Vad::new(VadMode::default());
                        }
                        Command::HandBack => {
                            // What the supervisor said before handing back is still theirs:
                            // it reaches the callee first, then the agent resumes.
                            while let Ok(pcm) = self.audio.try_recv() {
                                self.voice_frames.push(self.voice.push(&pcm), now);
                            }
                            self.taken_over = false;
                            self.voice.reset();
                            self.voice_frames.flush();
                            self.hand_back = Some(command);
                            continue;
                        }
                        _ => {}
                    }
                    return Some(Inbound::Supervisor(Input::Command(command)));
                }
                Some(pcm) = self.audio.recv() => {
                    if self.taken_over {
                        self.voice_frames.push(self.voice.push(&pcm), Instant::now());
                    }
                }
                () = sleep_until(flush_at) => {}
            }
        }
    }

    async fn send_audio(&mut self, mulaw: &[u8]) -> Result<(), Closed> {
        if self.mixing {
            self.mixer.agent(mulaw);
        }
        self.inner.send_audio(mulaw).await
    }

    fn max_frames_per_message(&self) -> usize {
        // The wrapper must not change how the call's audio is framed on the wire.
        self.inner.max_frames_per_message()
    }

    async fn send_mark(&mut self, name: &str) -> Result<(), Closed> {
        self.inner.send_mark(name).await
    }

    async fn clear(&mut self) -> Result<(), Closed> {
        tracing::debug!(
            mixing = self.mixing,
            dropped = self.mixer.queued(),
            "clear: the listen stream drops the agent's unplayed frames"
        );
        self.mixer.clear();
        self.inner.clear().await
    }

    fn echoes_marks(&self) -> bool {
        self.inner.echoes_marks()
    }

    async fn hang_up(&mut self) {
        self.inner.hang_up().await
    }
}

/// Sleeps until `at`; forever when there is none.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
