//! The room as the pipeline's [`Transport`]: the callee's audio and keys come from the
//! room task over a channel, the agent's frames, marks and clears go to it over another.

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::transport::{Closed, Inbound, Transport};

/// What the pipeline asks of the room task.
#[derive(Debug)]
pub(super) enum Command {
    Audio(Bytes),
    Mark(String),
    Clear,
    /// Finish sending what is queued, then answer (the room is left by its owner).
    Flush(oneshot::Sender<()>),
}

/// One LiveKit call's media, as the conversation sees it.
pub struct LiveKitTransport {
    pub(super) inbound: mpsc::Receiver<Inbound>,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) closed: bool,
}

impl std::fmt::Debug for LiveKitTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitTransport")
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl LiveKitTransport {
    async fn command(&mut self, command: Command) -> Result<(), Closed> {
        if self.closed {
            return Err(Closed);
        }
        self.commands.send(command).await.map_err(|_| {
            self.closed = true;
            Closed
        })
    }
}

#[async_trait]
impl Transport for LiveKitTransport {
    async fn recv(&mut self) -> Option<Inbound> {
        self.inbound.recv().await
    }

    async fn send_audio(&mut self, mulaw: &[u8]) -> Result<(), Closed> {
        self.command(Command::Audio(Bytes::copy_from_slice(mulaw)))
            .await
    }

    async fn send_mark(&mut self, name: &str) -> Result<(), Closed> {
        self.command(Command::Mark(name.to_string())).await
    }

    async fn clear(&mut self) -> Result<(), Closed> {
        self.command(Command::Clear).await
    }

    fn echoes_marks(&self) -> bool {
        true
    }

    /// Lets the queued audio (a goodbye) go out; the job then deletes the room, which
    /// hangs up the SIP leg, and leaves.
    async fn hang_up(&mut self) {
        let (done, flushed) = oneshot::channel();
        if self.command(Command::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
        self.closed = true;
    }
}
