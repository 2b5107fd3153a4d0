//! Twilio Media Streams over the worker's WebSocket (`<Connect><Stream>`): `connected`,
//! `start`, `media`, `dtmf`, `mark`, `stop` in; `media`, `mark`, `clear` out.
//!
//! Closing the socket ends `<Connect>`; since the TwiML has nothing after it, Twilio then
//! ends the call, which is how the agent hangs up.

mod messages;
pub mod signature;

use super::{Closed, Inbound, Transport};
use async_trait::async_trait;
use axum::extract::ws::{Message, WebSocket};
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use messages::{Incoming, Start};
use std::collections::BTreeMap;
use std::time::Duration;

/// Bytes kept for decoded callee frames (a 20 ms frame is 160).
const FRAME_BUFFER: usize = 1024;
/// Agent audio frames (20 ms) one outbound `media` message may carry (200 ms).
const MAX_FRAMES_PER_MESSAGE: usize = 10;

/// What the `start` message said about the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamStart {
    pub stream_sid: String,
    pub call_sid: String,
    /// The `<Parameter>`s (call id and token).
    pub custom_parameters: BTreeMap<String, String>,
}

/// Why a stream could not start.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("no start message within {0:?}")]
    Timeout(Duration),
    #[error("the stream closed before it started")]
    Closed,
    #[error("unexpected message before start: {0}")]
    Protocol(String),
}

/// A started Media Stream.
pub struct TwilioTransport {
    socket: WebSocket,
    stream_sid: String,
    /// Reused for base64 so a frame costs no allocation beyond the message.
    encoded: String,
    /// Reused for decoded callee frames (see `decode`).
    decoded: bytes::BytesMut,
    closed: bool,
}

impl std::fmt::Debug for TwilioTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioTransport")
            .field("stream_sid", &self.stream_sid)
            .finish_non_exhaustive()
    }
}

impl TwilioTransport {
    /// Reads `connected` and `start`.
    pub async fn accept(
        mut socket: WebSocket,
        wait: Duration,
    ) -> Result<(Self, StreamStart), HandshakeError> {
        let start = tokio::time::timeout(wait, async {
            while let Some(message) = socket.next().await {
                let Ok(Message::Text(text)) = message else {
                    match message {
                        Ok(Message::Close(_)) | Err(_) => return Err(HandshakeError::Closed),
                        _ => continue,
                    }
                };
                match serde_json::from_str::<Incoming<'_>>(text.as_str()) {
                    Ok(Incoming::Connected) => continue,
                    Ok(Incoming::Start { start, .. }) => return Ok(start),
                    Ok(_) => return Err(HandshakeError::Protocol(truncate(&text))),
                    Err(e) => return Err(HandshakeError::Protocol(e.to_string())),
                }
            }
            Err(HandshakeError::Closed)
        })
        .await
        .map_err(|_| HandshakeError::Timeout(wait))??;
        let Start {
            stream_sid,
            call_sid,
            custom_parameters,
        } = start;
        let transport = TwilioTransport {
            socket,
            stream_sid: stream_sid.clone(),
            encoded: String::with_capacity(256),
            decoded: bytes::BytesMut::with_capacity(FRAME_BUFFER),
            closed: false,
        };
        Ok((
            transport,
            StreamStart {
                stream_sid,
                call_sid,
                custom_parameters,
            },
        ))
    }

    /// Decodes a `media` payload into the reused frame buffer. The session reads a frame
    /// and drops it before the next, so the buffer's memory comes back every time.
    fn decode(&mut self, payload: &[u8]) -> Result<Bytes, base64::DecodeSliceError> {
        self.decoded
            .resize(base64::decoded_len_estimate(payload.len()), 0);
        let written =
            base64::engine::general_purpose::STANDARD.decode_slice(payload, &mut self.decoded[..]);
        let written = written.inspect_err(|_| self.decoded.clear())?;
        self.decoded.truncate(written);
        Ok(self.decoded.split().freeze())
    }

    async fn send_text(&mut self, text: String) -> Result<(), Closed> {
        if self.closed {
            return Err(Closed);
        }
        if self.socket.send(Message::Text(text.into())).await.is_err() {
            self.closed = true;
            return Err(Closed);
        }
        Ok(())
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(120).collect()
}

#[async_trait]
impl Transport for TwilioTransport {
    async fn recv(&mut self) -> Option<Inbound> {
        if self.closed {
            return None;
        }
        loop {
            let message = match self.socket.next().await {
                Some(Ok(message)) => message,
                Some(Err(_)) | None => {
                    self.closed = true;
                    return None;
                }
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Close(_) => {
                    self.closed = true;
                    return None;
                }
                _ => continue,
            };
            match serde_json::from_str::<Incoming<'_>>(text.as_str()) {
                Ok(Incoming::Media { media }) => match self.decode(media.payload.as_bytes()) {
                    Ok(frame) => return Some(Inbound::Audio(frame)),
                    Err(e) => tracing::warn!(error = %e, "media payload is not base64"),
                },
                Ok(Incoming::Dtmf { dtmf }) => {
                    if let Some(digit) = dtmf.digit.chars().next() {
                        return Some(Inbound::Dtmf(digit));
                    }
                }
                Ok(Incoming::Mark { mark }) => return Some(Inbound::Mark(mark.name.into_owned())),
                Ok(Incoming::Stop) => {
                    self.closed = true;
                    return None;
                }
                Ok(Incoming::Connected | Incoming::Start { .. }) => {}
                Err(e) => tracing::warn!(error = %e, "unreadable Media Streams message"),
            }
        }
    }

    async fn send_audio(&mut self, mulaw: &[u8]) -> Result<(), Closed> {
        let mut encoded = std::mem::take(&mut self.encoded);
        encoded.clear();
        base64::engine::general_purpose::STANDARD.encode_string(mulaw, &mut encoded);
        let text = messages::media(&self.stream_sid, &encoded);
        self.encoded = encoded;
        self.send_text(text).await
    }

    async fn send_mark(&mut self, name: &str) -> Result<(), Closed> {
        let text = messages::mark(&self.stream_sid, name);
        self.send_text(text).await
    }

    async fn clear(&mut self) -> Result<(), Closed> {
        let text = messages::clear(&self.stream_sid);
        self.send_text(text).await
    }

    fn echoes_marks(&self) -> bool {
        true
    }

    /// Twilio buffers what it is sent (the pacer keeps 200 ms ahead), so a message may
    /// carry several frames; `pipeline.media_message_ms` picks how many (60 ms: a third
    /// of the messages, framing, JSON and syscalls of one per frame).
    fn max_frames_per_message(&self) -> usize {
        MAX_FRAMES_PER_MESSAGE
    }

    async fn hang_up(&mut self) {
        if !self.closed {
            self.closed = true;
            let _ = self.socket.send(Message::Close(None)).await;
        }
    }
}
