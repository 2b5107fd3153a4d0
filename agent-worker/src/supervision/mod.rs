//! Live supervision: a person of the call's organization listens to a live call and steps
//! in (say, whisper, end, transfer, take over, hand back).
//!
//! Each call the worker holds opens a [`CallLine`] in the process's [`Hub`] for as long as
//! its session runs. The control plane reaches it through `endpoint.rs` (an internal
//! WebSocket for listening and taking over, and a POST for the other controls), and the
//! session sees it through `transport.rs`: a wrapper around the call's real transport
//! (Twilio Media Streams or the LiveKit participant) that taps both directions for the
//! listen stream and hands the supervisor's commands and audio to the session as
//! ordinary inbound items. Every buffer is bounded and a slow listener loses frames
//! rather than slowing the call (`listen.rs` has the framing).

pub mod endpoint;
pub mod jitter;
pub mod listen;
pub mod transport;

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, watch};
use uuid::Uuid;

/// Listen frames a listener may fall behind by before it loses the oldest (5 s). The
/// call's frames come in bursts after a network hiccup, and the session publishes a burst
/// faster than a socket takes it: 1 s lost audio a fast listener needed. The channel's
/// slots are shared by a call's listeners (at most 320 KB of frames per listened call).
const LISTEN_BACKLOG: usize = 250;
/// Commands waiting for the session; a supervisor never needs more in flight.
const COMMAND_QUEUE: usize = 16;
/// Supervisor audio chunks waiting for the session (about 1 s of 20 ms chunks).
const AUDIO_QUEUE: usize = 50;

/// What a supervisor asks of a call's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The agent stops what it is saying and says this.
    Say(String),
    /// A note for the model that the callee does not hear.
    Whisper(String),
    /// End the call now.
    End,
    /// Transfer the call to this number (E.164), as the agent's transfer tool does.
    Transfer(String),
    /// The agent falls silent; the supervisor's audio goes to the callee.
    TakeOver,
    /// The agent resumes.
    HandBack,
}

/// What the supervision wrapper hands the session besides the callee's media.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Command(Command),
    /// 20 ms of the supervisor's voice for the callee, 8 kHz mu-law (only during a
    /// take-over); `speech` if the VAD heard speech in it.
    Audio {
        frame: Bytes,
        speech: bool,
    },
}

/// Why a supervision request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("another supervisor has taken this call over")]
    TakenByAnother,
    #[error("the call is not taken over")]
    NotTakenOver,
    #[error("the call is taken over: hand it back first")]
    TakenOver,
    #[error("the call is ending")]
    Ended,
    #[error("too many commands in flight; try again")]
    Busy,
}

/// What listeners can watch of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineState {
    pub taken_over: bool,
    /// The session has ended: connections close.
    pub ended: bool,
}

/// One call's line to its supervisors, shared by the session's wrapper and the
/// connections.
#[derive(Debug)]
pub struct CallLine {
    /// Stereo listen frames (see `listen.rs`); lagging receivers lose the oldest.
    listen: broadcast::Sender<Bytes>,
    commands: mpsc::Sender<Command>,
    /// The supervisor's voice (16 kHz s16le, any chunking), only from the owner.
    audio: mpsc::Sender<Bytes>,
    state: watch::Sender<LineState>,
    /// The connection that took the call over: only its audio reaches the callee, and
    /// its going away hands the call back.
    owner: Mutex<Option<u64>>,
    next_connection: AtomicU64,
}

/// The session's ends of its line.
pub struct SessionEnd {
    pub line: Arc<CallLine>,
    pub commands: mpsc::Receiver<Command>,
    pub audio: mpsc::Receiver<Bytes>,
    /// Removes the line from the hub and closes its connections when the session ends.
    _guard: LineGuard,
}

impl CallLine {
    /// A new listener's stream of stereo frames.
    pub fn subscribe(&self) -> broadcast::Receiver<Bytes> {
        self.listen.subscribe()
    }

    /// Whether anybody listens (the wrapper mixes frames only then).
    pub fn has_listeners(&self) -> bool {
        self.listen.receiver_count() > 0
    }

    pub(crate) fn publish(&self, frame: Bytes) {
        // No receiver is not an error: the frame just has nobody to go to.
        let _ = self.listen.send(frame);
    }

    pub fn state(&self) -> watch::Receiver<LineState> {
        self.state.subscribe()
    }

    /// A number for a new connection (who may own a take-over).
    pub fn connect(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A command for the session (not take-over or hand-back, which have their own).
    pub fn command(&self, command: Command) -> Result<(), Refusal> {
        let state = *self.state.borrow();
        if state.ended {
            return Err(Refusal::Ended);
        }
        if state.taken_over && matches!(command, Command::Say(_)) {
            return Err(Refusal::TakenOver);
        }
        self.send(command)
    }

    fn send(&self, command: Command) -> Result<(), Refusal> {
        self.commands.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Refusal::Busy,
            mpsc::error::TrySendError::Closed(_) => Refusal::Ended,
        })
    }

    /// Connection `connection` takes the call over.
    pub fn take_over(&self, connection: u64) -> Result<(), Refusal> {
        let mut owner = self.owner.lock().unwrap_or_else(|e| e.into_inner());
        match *owner {
            Some(other) if other != connection => return Err(Refusal::TakenByAnother),
            Some(_) => return Ok(()),
            None => {}
        }
        self.send(Command::TakeOver)?;
        *owner = Some(connection);
        self.state.send_modify(|s| s.taken_over = true);
        Ok(())
    }

    /// Gives the call back to the agent (any supervisor may).
    pub fn hand_back(&self) -> Result<(), Refusal> {
        let mut owner = self.owner.lock().unwrap_or_else(|e| e.into_inner());
        if owner.is_none() {
            return Err(Refusal::NotTakenOver);
        }
        self.send(Command::HandBack)?;
        *owner = None;
        self.state.send_modify(|s| s.taken_over = false);
        Ok(())
    }

    /// The supervisor's voice from `connection`; dropped unless it owns the take-over
    /// or when the session is behind (a late chunk is worth less than a live one).
    pub fn supervisor_audio(&self, connection: u64, pcm: Bytes) {
        let owns = *self.owner.lock().unwrap_or_else(|e| e.into_inner()) == Some(connection);
        if owns {
            let _ = self.audio.try_send(pcm);
        }
    }

    /// Connection `connection` went away: if it held the call, the agent resumes.
    pub fn release(&self, connection: u64) {
        let owned = *self.owner.lock().unwrap_or_else(|e| e.into_inner()) == Some(connection);
        if owned {
            if let Err(refusal) = self.hand_back() {
                tracing::debug!(%refusal, "handing back after the supervisor left");
            }
        }
    }
}

/// The calls of this process that can be supervised.
#[derive(Debug, Default)]
pub struct Hub {
    calls: Arc<Mutex<HashMap<Uuid, Arc<CallLine>>>>,
}

impl Hub {
    /// Opens `call`'s line for its session (replacing a stale one with the same id).
    pub fn open(&self, call: Uuid) -> SessionEnd {
        let (listen, _) = broadcast::channel(LISTEN_BACKLOG);
        let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let (audio, audio_rx) = mpsc::channel(AUDIO_QUEUE);
        let line = Arc::new(CallLine {
            listen,
            commands,
            audio,
            state: watch::Sender::new(LineState::default()),
            owner: Mutex::new(None),
            next_connection: AtomicU64::new(0),
        });
        self.lock().insert(call, line.clone());
        SessionEnd {
            line: line.clone(),
            commands: commands_rx,
            audio: audio_rx,
            _guard: LineGuard {
                calls: self.calls.clone(),
                call,
                line,
            },
        }
    }

    /// The line of a call this worker holds.
    pub fn get(&self, call: Uuid) -> Option<Arc<CallLine>> {
        self.lock().get(&call).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<CallLine>>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Closes a line when its session ends, however it ends.
struct LineGuard {
    calls: Arc<Mutex<HashMap<Uuid, Arc<CallLine>>>>,
    call: Uuid,
    line: Arc<CallLine>,
}

impl Drop for LineGuard {
    fn drop(&mut self) {
        self.line.state.send_modify(|s| s.ended = true);
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        if calls
            .get(&self.call)
            .is_some_and(|l| Arc::ptr_eq(l, &self.line))
        {
            calls.remove(&self.call);
        }
    }
}

#[cfg(test)]
mod tests;
