//! The session's view of supervision: a [`Transport`] around the call's real one. It taps
//! the callee's audio and the agent's for the listen stream (only while somebody
//! listens), and delivers the supervisor's commands and voice as [`Inbound::Supervisor`]
//! items, so the session's one `select!` handles them like any other input.

use super::listen::{ListenMixer, SupervisorVoice};
use super::{CallLine, Command, Input, SessionEnd};
use crate::transport::{Closed, Inbound, Transport};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
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
    voice_frames: VecDeque<Bytes>,
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
            voice_frames: VecDeque::new(),
            taken_over: false,
            _guard,
        }
    }

    fn on_callee_frame(&mut self, frame: &[u8]) {
        if !self.line.has_listeners() {
            if self.mixing {
                self.mixer.reset();
                self.mixing = false;
            }
            return;
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
            if let Some(frame) = self.voice_frames.pop_front() {
                return Some(Inbound::Supervisor(Input::Audio(frame)));
            }
            tokio::select! {
                biased;
                inbound = self.inner.recv() => {
                    if let Some(Inbound::Audio(frame)) = &inbound {
                        self.on_callee_frame(frame);
                    }
                    return inbound;
                }
                Some(command) = self.commands.recv() => {
                    match command {
                        Command::TakeOver => self.taken_over = true,
                        Command::HandBack => {
                            self.taken_over = false;
                            self.voice.reset();
                            self.voice_frames.clear();
                        }
                        _ => {}
                    }
                    return Some(Inbound::Supervisor(Input::Command(command)));
                }
                Some(pcm) = self.audio.recv() => {
                    if self.taken_over {
                        self.voice_frames.extend(self.voice.push(&pcm));
                    }
                }
            }
        }
    }

    async fn send_audio(&mut self, mulaw: &[u8]) -> Result<(), Closed> {
        if self.mixing {
            self.mixer.agent(mulaw);
        }
        self.inner.send_audio(mulaw).await
    }

    async fn send_mark(&mut self, name: &str) -> Result<(), Closed> {
        self.inner.send_mark(name).await
    }

    async fn clear(&mut self) -> Result<(), Closed> {
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
