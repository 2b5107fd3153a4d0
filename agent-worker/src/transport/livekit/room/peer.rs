//! One WebRTC peer connection: a str0m `Rtc` (ICE, DTLS, SRTP, SCTP, all sans-IO) on its
//! own UDP socket. The room task feeds it datagrams and timeouts and collects its events;
//! everything str0m wants sent goes straight out of the socket.
//!
//! str0m's one rule is kept here: after every mutation, drain `poll_output` until it
//! returns a timeout. Every method that mutates ends with [`Peer::drain`].

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcError};
use tokio::net::UdpSocket;

/// A UDP payload never exceeds this (str0m keeps below the MTU; the rest is headroom).
const DATAGRAM: usize = 2048;

/// Audio packets str0m may hold back waiting for a missing earlier one, and for how long.
/// Its defaults (15 packets, 1 s) suit recording, not a conversation: one lost packet
/// held the next 300 ms of a call's audio and then released it in a burst, which the
/// LiveKit bench heard as every call's gaps being 233-241 ms late. A live call plays on
/// past a lost 20 ms frame instead.
const REORDER_PACKETS: usize = 2;
const REORDER_WAIT: std::time::Duration = std::time::Duration::from_millis(40);

/// Why a peer connection failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("webrtc: {0}")]
    Rtc(#[from] RtcError),
    #[error("udp: {0}")]
    Io(#[from] std::io::Error),
    #[error("a session description: {0}")]
    Sdp(String),
}

/// A peer connection and its socket.
pub(super) struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    candidate: Candidate,
    /// When str0m next wants to be woken without input.
    next_timeout: Instant,
    buffer: Vec<u8>,
}

impl Peer {
    /// A peer connection on a new UDP socket bound to `ip`; only Opus is offered or
    /// accepted (no RED: the server then sends plain Opus).
    pub(super) async fn bind(ip: IpAddr) -> Result<Self, PeerError> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let local = socket.local_addr()?;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .set_reordering_size_audio(REORDER_PACKETS)
            .set_reordering_timeout_audio(Some(REORDER_WAIT))
            .build(Instant::now());
        let candidate = Candidate::host(local, "udp").map_err(|e| PeerError::Sdp(e.to_string()))?;
        rtc.add_local_candidate(candidate.clone());
        let mut peer = Self {
            rtc,
            socket,
            local,
            candidate,
            next_timeout: Instant::now(),
            buffer: vec![0; DATAGRAM],
        };
        peer.drain()?;
        Ok(peer)
    }

    /// Our host candidate (for trickling).
    pub(super) fn candidate(&self) -> &Candidate {
        &self.candidate
    }

    pub(super) fn rtc(&mut self) -> &mut Rtc {
        &mut self.rtc
    }

    /// Answers the server's offer.
    pub(super) fn accept_offer(&mut self, sdp: &str) -> Result<(String, Vec<Event>), PeerError> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| PeerError::Sdp(e.to_string()))?;
        let answer = self.rtc.sdp_api().accept_offer(offer)?;
        let events = self.drain()?;
        Ok((answer.to_sdp_string(), events))
    }

    /// Applies the server's answer to our offer.
    pub(super) fn accept_answer(
        &mut self,
        pending: SdpPendingOffer,
        sdp: &str,
    ) -> Result<Vec<Event>, PeerError> {
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| PeerError::Sdp(e.to_string()))?;
        self.rtc.sdp_api().accept_answer(pending, answer)?;
        self.drain()
    }

    pub(super) fn add_remote_candidate(
        &mut self,
        candidate: Candidate,
    ) -> Result<Vec<Event>, PeerError> {
        self.rtc.add_remote_candidate(candidate);
        self.drain()
    }

    /// When [`Peer::on_timeout`] is due.
    pub(super) fn next_timeout(&self) -> Instant {
        self.next_timeout
    }

    /// Advances str0m's clock to now.
    pub(super) fn on_timeout(&mut self) -> Result<Vec<Event>, PeerError> {
        self.rtc.handle_input(Input::Timeout(Instant::now()))?;
        self.drain()
    }

    /// Waits for a datagram. Cancel-safe (nothing is read until one is there).
    pub(super) async fn readable(&self) -> std::io::Result<()> {
        self.socket.readable().await
    }

    /// Feeds every datagram waiting on the socket to str0m.
    pub(super) fn on_readable(&mut self) -> Result<Vec<Event>, PeerError> {
        let mut events = Vec::new();
        loop {
            let (len, source) = match self.socket.try_recv_from(&mut self.buffer) {
                Ok(received) => received,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // ICMP "port unreachable" from a peer that went away: not our socket's fault.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e.into()),
            };
            let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, &self.buffer[..len])
            else {
                continue;
            };
            let input = Input::Receive(Instant::now(), receive);
            if self.rtc.accepts(&input) {
                self.rtc.handle_input(input)?;
                events.extend(self.drain()?);
            }
        }
        Ok(events)
    }

    /// Drains str0m's output: sends what it transmits, returns its events, and notes its
    /// next timeout. Call after every mutation of the `Rtc`.
    pub(super) fn drain(&mut self) -> Result<Vec<Event>, PeerError> {
        let mut events = Vec::new();
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(at) => {
                    self.next_timeout = at;
                    return Ok(events);
                }
                Output::Transmit(transmit) => {
                    // UDP: a full send buffer drops the datagram, as the network might.
                    let _ = self
                        .socket
                        .try_send_to(&transmit.contents, transmit.destination);
                }
                Output::Event(event) => events.push(event),
            }
        }
    }

    pub(super) fn close(&mut self) {
        self.rtc.disconnect();
    }
}
