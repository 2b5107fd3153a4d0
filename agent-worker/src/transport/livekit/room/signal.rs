//! LiveKit's `/rtc` signalling: one WebSocket, one protobuf `SignalRequest` /
//! `SignalResponse` per binary frame. Joining is the upgrade itself (the token rides in
//! the query); the first message back is the `JoinResponse`.
//!
//! We speak protocol 16 over the two-peer-connection path (livekit-server 1.13 speaks 17
//! and still serves it): the server offers the subscriber connection, we offer the
//! publisher's. ICE candidates travel as `TrickleRequest`s holding the browser's
//! `RTCIceCandidateInit` JSON.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use livekit_protocol::{self as proto, signal_request, signal_response};
use prost::Message as _;
use serde::{Deserialize, Serialize};
use str0m::Candidate;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::app::READ_BUFFER;

/// The client protocol we speak (see the module doc).
const PROTOCOL: u32 = 16;

/// Why signalling failed.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("connecting to {url}: {error}")]
    Connect { url: String, error: String },
    #[error("no JoinResponse within {0:?}")]
    JoinTimeout(Duration),
    #[error("the signalling connection closed")]
    Closed,
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("an unreadable SignalResponse: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// The `/rtc` address for a room token: `ws(s)://host/rtc?access_token=..&...`.
pub(super) fn rtc_url(livekit_url: &str, token: &str) -> String {
    let base = super::super::wire::http_url(livekit_url);
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base
    };
    format!(
        "{base}/rtc?access_token={token}&auto_subscribe=1&sdk=rust&protocol={PROTOCOL}\
         &adaptive_stream=0"
    )
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A joined signalling connection.
pub(super) struct Signal {
    socket: Socket,
}

impl Signal {
    /// Connects and waits for the `JoinResponse`. A refused join (bad token, room gone)
    /// fails the upgrade with the server's HTTP status.
    pub(super) async fn join(
        livekit_url: &str,
        token: &str,
        wait: Duration,
    ) -> Result<(Self, proto::JoinResponse), SignalError> {
        let url = rtc_url(livekit_url, token);
        let shown = url.split('?').next().unwrap_or_default().to_string();
        let joined = tokio::time::timeout(wait, async {
            // A small read buffer: tungstenite zero-fills the whole buffer before every
            // read, and with its 128 KiB default that memset was 12% of the worker's CPU
            // in the LiveKit bench (the room's `select!` polls the socket on every wake).
            // No Nagle: signalling messages are small and each one is waited for.
            let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
            let (socket, _) =
                tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true)
                    .await
                    .map_err(|e| SignalError::Connect {
                        url: shown.clone(),
                        error: e.to_string(),
                    })?;
            let mut signal = Signal { socket };
            loop {
                match signal.recv().await {
                    Some(Ok(signal_response::Message::Join(join))) => return Ok((signal, join)),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e),
                    None => return Err(SignalError::Closed),
                }
            }
        })
        .await;
        joined.map_err(|_| SignalError::JoinTimeout(wait))?
    }

    /// Sends one request.
    pub(super) async fn send(
        &mut self,
        message: signal_request::Message,
    ) -> Result<(), SignalError> {
        let request = proto::SignalRequest {
            message: Some(message),
        };
        self.socket
            .send(Message::Binary(request.encode_to_vec().into()))
            .await?;
        Ok(())
    }

    /// The next response; `None` once the connection has closed. Cancel-safe.
    pub(super) async fn recv(&mut self) -> Option<Result<signal_response::Message, SignalError>> {
        loop {
            let message = match self.socket.next().await? {
                Ok(message) => message,
                Err(e) => return Some(Err(e.into())),
            };
            match message {
                Message::Binary(bytes) => match proto::SignalResponse::decode(bytes.as_ref()) {
                    Ok(proto::SignalResponse {
                        message: Some(message),
                    }) => return Some(Ok(message)),
                    // A kind newer than our protobufs: nothing we act on.
                    Ok(_) => continue,
                    Err(e) => return Some(Err(e.into())),
                },
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Closes the WebSocket (after a `leave`).
    pub(super) async fn close(&mut self) {
        let _ = self.socket.close(None).await;
    }
}

/// The browser's `RTCIceCandidateInit`, as LiveKit carries it in `candidateInit`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CandidateInit {
    candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sdp_mid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sdp_m_line_index: Option<u32>,
}

/// A trickle of our candidate for the connection `target`.
pub(super) fn trickle(
    candidate: &Candidate,
    target: proto::SignalTarget,
) -> signal_request::Message {
    let init = CandidateInit {
        candidate: candidate.to_sdp_string(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    };
    signal_request::Message::Trickle(proto::TrickleRequest {
        candidate_init: serde_json::to_string(&init).unwrap_or_default(),
        target: target as i32,
        ..Default::default()
    })
}

/// The candidate a server trickle carries; `None` for end-of-candidates or one we cannot
/// use (TCP, unparsable).
pub(super) fn trickled_candidate(trickle: &proto::TrickleRequest) -> Option<Candidate> {
    let init: CandidateInit = serde_json::from_str(&trickle.candidate_init).ok()?;
    let text = init.candidate.trim();
    let text = text.strip_prefix("a=").unwrap_or(text);
    if text.is_empty() {
        return None;
    }
    let candidate = Candidate::from_sdp_string(text).ok()?;
    (candidate.proto() == str0m::net::Protocol::Udp).then_some(candidate)
}

/// A session description for the server (`type` "offer" or "answer").
pub(super) fn description(kind: &str, sdp: String, id: u32) -> proto::SessionDescription {
    proto::SessionDescription {
        r#type: kind.to_string(),
        sdp,
        id,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rtc_url_carries_the_token_and_our_protocol() {
        assert_eq!(
            rtc_url("http://127.0.0.1:7880/", "tok"),
            "ws://127.0.0.1:7880/rtc?access_token=tok&auto_subscribe=1&sdk=rust&protocol=16\
             &adaptive_stream=0"
        );
        assert!(rtc_url("https://x.livekit.cloud", "t").starts_with("wss://x.livekit.cloud/rtc?"));
        assert!(rtc_url("wss://x.livekit.cloud", "t").starts_with("wss://x.livekit.cloud/rtc?"));
    }

    #[test]
    fn server_candidates_are_read_from_their_json_and_tcp_ones_skipped() {
        let udp = proto::TrickleRequest {
            candidate_init: r#"{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 7882 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"ab"}"#.into(),
            target: 1,
            ..Default::default()
        };
        let candidate = trickled_candidate(&udp).unwrap();
        assert_eq!(candidate.addr(), "127.0.0.1:7882".parse().unwrap());
        let tcp = proto::TrickleRequest {
            candidate_init: r#"{"candidate":"candidate:2 1 tcp 1671430143 127.0.0.1 7881 typ host tcptype passive"}"#.into(),
            ..Default::default()
        };
        assert!(trickled_candidate(&tcp).is_none());
        let end = proto::TrickleRequest {
            candidate_init: r#"{"candidate":""}"#.into(),
            ..Default::default()
        };
        assert!(trickled_candidate(&end).is_none());
    }

    #[test]
    fn our_candidates_go_out_as_candidate_init_json() {
        let candidate = Candidate::host("127.0.0.1:5000".parse().unwrap(), "udp").unwrap();
        let signal_request::Message::Trickle(trickle) =
            trickle(&candidate, proto::SignalTarget::Subscriber)
        else {
            panic!("not a trickle");
        };
        assert_eq!(trickle.target, 1);
        let json: serde_json::Value = serde_json::from_str(&trickle.candidate_init).unwrap();
        assert!(json["candidate"]
            .as_str()
            .unwrap()
            .ends_with("127.0.0.1 5000 typ host"));
    }
}
