//! The agent in the LiveKit room: a participant in pure Rust (str0m for WebRTC, libopus
//! for the audio), joined with the token of the job's assignment.
//!
//! - `signal`: the `/rtc` WebSocket (join, offers and answers, trickle, pings, leave).
//! - `peer`: one str0m peer connection on its own UDP socket.
//! - `media`: Opus 48 kHz in the room, mu-law 8 kHz in the pipeline.
//! - `callee`: the SIP participant's `sip.callStatus` and its leaving.
//! - `playout`: the agent's frames on the 20 ms clock, with marks and clears.
//! - `task`: one task per room driving all of the above in one `select!`.
//! - `transport`: the room as the pipeline's `Transport`.
//!
//! As LiveKit's own clients do, the room uses two peer connections: the server offers the
//! subscriber one (the callee's audio and the server's data channels, which carry DTMF),
//! we offer the publisher one (the agent's Opus track) after `AddTrackRequest`. [`Room::join`]
//! returns once both are connected, so the agent hears the callee's first packet and
//! its own first frame goes out at once.

mod callee;
mod media;
mod pause;
mod peer;
mod playout;
mod signal;
mod task;
mod transport;

use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use callee::CalleeState;
pub use media::MediaError;
pub use peer::PeerError;
pub use signal::SignalError;
pub use task::RoomEnd;
pub use transport::LiveKitTransport;

/// How long the signalling join may take.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long both peer connections may take to connect after the join.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The callee's audio waiting for the pipeline: 5 s, enough for the wait between the
/// answer and the session's start.
const INBOUND_QUEUE: usize = 250;
/// The pipeline's frames and marks waiting for the room task.
const COMMAND_QUEUE: usize = 64;

/// Why the room could not be joined.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error(transparent)]
    Signal(#[from] SignalError),
    #[error(transparent)]
    Peer(#[from] PeerError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("no local address reaches {0}")]
    LocalAddress(String),
    #[error("the peer connections did not connect within {0:?}")]
    NotConnected(Duration),
    #[error("the room ended while joining: {0:?}")]
    Ended(RoomEnd),
}

/// A joined room.
pub struct Room {
    callee: watch::Receiver<CalleeState>,
    remote_audio: watch::Receiver<bool>,
    track_subscribed: watch::Receiver<bool>,
    transport: Option<LiveKitTransport>,
    leave: Option<oneshot::Sender<()>>,
    /// Cancelled when the room task has ended (left, removed, or the connection died).
    gone: CancellationToken,
    task: JoinHandle<RoomEnd>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("callee", &*self.callee.borrow())
            .finish_non_exhaustive()
    }
}

/// How a room participant behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct JoinOptions {
    /// Send no packets while nothing is queued (after a few frames of silence), as
    /// WebRTC's DTX does (see `pause`); otherwise every 20 ms carries a packet, silence
    /// included, as livekit-sip's own participants do.
    pub pause_in_silence: bool,
}

impl Room {
    /// Joins with `token` at `livekit_url` (http(s) or ws(s)), subscribes to whatever the
    /// room publishes, publishes the agent's audio track and waits until both peer
    /// connections are up.
    pub async fn join(livekit_url: &str, token: &str) -> Result<Room, RoomError> {
        Self::join_with(livekit_url, token, JoinOptions::default()).await
    }

    /// [`Room::join`] with options (the track pausing in silence).
    pub async fn join_with(
        livekit_url: &str,
        token: &str,
        options: JoinOptions,
    ) -> Result<Room, RoomError> {
        let ip = local_ip(livekit_url).await?;
        let (signal, join) = signal::Signal::join(livekit_url, token, JOIN_TIMEOUT).await?;
        let subscriber = peer::Peer::bind(ip).await?;
        let publisher = peer::Peer::bind(ip).await?;
        let (to_pipeline, inbound) = mpsc::channel(INBOUND_QUEUE);
        let (commands, from_pipeline) = mpsc::channel(COMMAND_QUEUE);
        let (callee_tx, callee) = watch::channel(CalleeState::Absent);
        let (remote_audio_tx, remote_audio) = watch::channel(false);
        let (track_subscribed_tx, track_subscribed) = watch::channel(false);
        let (ready_tx, ready) = oneshot::channel();
        let (leave, leave_rx) = oneshot::channel();
        let gone = CancellationToken::new();
        let room = task::RoomTask::new(
            task::Parts {
                signal,
                subscriber,
                publisher,
                to_pipeline,
                from_pipeline,
                callee: callee_tx,
                remote_audio: remote_audio_tx,
                track_subscribed: track_subscribed_tx,
                pause_in_silence: options.pause_in_silence,
            },
            &join,
        )?;
        let guard = gone.clone().drop_guard();
        let task = tokio::spawn(async move {
            let _gone = guard;
            room.run(ready_tx, leave_rx).await
        });
        let mut room = Room {
            callee,
            remote_audio,
            track_subscribed,
            transport: Some(LiveKitTransport {
                inbound,
                commands,
                closed: false,
            }),
            leave: Some(leave),
            gone,
            task,
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, ready).await {
            Ok(Ok(())) => Ok(room),
            Ok(Err(_)) => {
                let end = (&mut room.task).await.unwrap_or(RoomEnd::Failed);
                Err(RoomError::Ended(end))
            }
            Err(_) => {
                room.leave().await;
                Err(RoomError::NotConnected(CONNECT_TIMEOUT))
            }
        }
    }

    /// The callee's state, as it changes.
    pub fn callee(&self) -> watch::Receiver<CalleeState> {
        self.callee.clone()
    }

    /// Becomes true once the server offers us another participant's audio track, i.e.
    /// once we are subscribed to it: a phone behind livekit-sip is subscribed to the
    /// agent's track this way long before it answers, whether or not packets flow yet (a
    /// track paused in silence sends none).
    pub fn remote_audio(&self) -> watch::Receiver<bool> {
        self.remote_audio.clone()
    }

    /// Becomes true once livekit-server says another participant is subscribed to our
    /// track (`TrackSubscribed`: its down track is bound and connected), i.e. once what
    /// we send reaches someone.
    pub fn track_subscribed(&self) -> watch::Receiver<bool> {
        self.track_subscribed.clone()
    }

    /// The room as the pipeline's transport (once).
    pub fn take_transport(&mut self) -> Option<LiveKitTransport> {
        self.transport.take()
    }

    /// Returns once the room task has ended: we were removed, the room was deleted, or
    /// the connection to the server died.
    pub async fn ended(&self) {
        self.gone.cancelled().await
    }

    /// Leaves the room (a no-op if it has already ended) and says how it ended.
    pub async fn leave(mut self) -> RoomEnd {
        if let Some(leave) = self.leave.take() {
            let _ = leave.send(());
        }
        (&mut self.task).await.unwrap_or(RoomEnd::Failed)
    }
}

/// The local address that routes to the LiveKit server: our host candidate. (The server
/// also learns our reflexive address from our connectivity checks, so a NAT between the
/// worker and LiveKit still connects.)
async fn local_ip(livekit_url: &str) -> Result<IpAddr, RoomError> {
    let http = super::wire::http_url(livekit_url);
    let fail = || RoomError::LocalAddress(http.clone());
    let parsed = url::Url::parse(&http).map_err(|_| fail())?;
    let host = parsed.host_str().ok_or_else(fail)?.to_string();
    let port = parsed.port_or_known_default().unwrap_or(7880);
    let server = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| fail())?
        .next()
        .ok_or_else(fail)?;
    let unspecified: IpAddr = if server.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    // Connecting a UDP socket sends nothing; it only asks the kernel for the route.
    let probe = std::net::UdpSocket::bind((unspecified, 0)).map_err(|_| fail())?;
    probe.connect(server).map_err(|_| fail())?;
    let ip = probe.local_addr().map_err(|_| fail())?.ip();
    if ip.is_unspecified() {
        return Err(fail());
    }
    Ok(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_address_for_a_loopback_server_is_loopback() {
        let ip = local_ip("ws://127.0.0.1:7880").await.unwrap();
        assert_eq!(ip, IpAddr::from([127, 0, 0, 1]));
        assert!(local_ip("not a url").await.is_err());
    }
}
