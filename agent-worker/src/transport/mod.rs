//! How a call's audio reaches the worker. The voice pipeline talks to a `Transport` and
//! never knows which one: Twilio Media Streams here, the LiveKit room participant next.
//! `livekit/` is the LiveKit agent-worker protocol that brings those jobs to the worker.

pub mod livekit;
pub mod twilio;

use async_trait::async_trait;
use bytes::Bytes;

/// Something from the call's media connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// 20 ms of the callee's audio, 8 kHz mu-law.
    Audio(Bytes),
    /// A key the callee pressed.
    Dtmf(char),
    /// A mark we sent came back: the audio before it played (or was cleared).
    Mark(String),
    /// A supervisor's command or voice (only from `supervision::transport`).
    Supervisor(crate::supervision::Input),
}

/// The media connection is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the call's media connection is closed")]
pub struct Closed;

/// One call's media connection.
#[async_trait]
pub trait Transport: Send {
    /// The next inbound item; `None` once the media has ended. Cancel-safe.
    async fn recv(&mut self) -> Option<Inbound>;
    /// Sends the agent's audio (8 kHz mu-law): whole 20 ms frames, at most
    /// [`Transport::max_frames_per_message`] of them.
    async fn send_audio(&mut self, mulaw: &[u8]) -> Result<(), Closed>;
    /// How many 20 ms frames one `send_audio` may carry: fewer, bigger messages cost less
    /// per call where the far end buffers anyway.
    fn max_frames_per_message(&self) -> usize {
        1
    }
    /// Sends a mark that comes back once the audio before it played.
    async fn send_mark(&mut self, name: &str) -> Result<(), Closed>;
    /// Drops audio the far end holds but has not played yet (barge-in).
    async fn clear(&mut self) -> Result<(), Closed>;
    /// Whether marks come back (if not, sent audio counts as heard).
    fn echoes_marks(&self) -> bool;
    /// Ends the call's media from our side.
    async fn hang_up(&mut self);
}
