//! Deepgram live transcription over a WebSocket, on the phone's own mu-law 8 kHz.
//!
//! One task per session owns the socket: it batches 20 ms frames into `chunk_ms` binary
//! messages (fewer messages per call), sends `KeepAlive` when no audio went out for a
//! while, `Finalize` when asked and `CloseStream` when the pipeline drops its sender, and
//! turns the service's messages into `SttEvent`s. A close or error the pipeline did not
//! ask for is an `Err` on the events stream (the fallback layer then reconnects).

mod wire;

use super::receiver_stream;
use crate::app::READ_BUFFER;
use crate::providers::http::Endpoint;
use crate::providers::{ProviderError, Stt, SttEvent, SttInput, SttOptions, SttSession};
use async_trait::async_trait;
use futures::stream::{SplitSink, StreamExt};
use futures::SinkExt;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use url::Url;

pub use wire::{parse, Parsed};

/// Send `KeepAlive` after this long without audio (Deepgram allows 10 s).
const KEEP_ALIVE_AFTER: Duration = Duration::from_secs(4);
/// After `CloseStream`, how long to wait for the last results.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// Events waiting for the reader.
const EVENT_CAPACITY: usize = 32;
/// Frames waiting for the socket.
const INPUT_CAPACITY: usize = 32;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Events = mpsc::Sender<Result<SttEvent, ProviderError>>;

/// The Deepgram live STT client.
#[derive(Debug, Clone)]
pub struct DeepgramStt {
    endpoint: Endpoint,
    /// Bytes of mu-law per binary message.
    chunk_bytes: usize,
    utterance_end_ms: u64,
    tls: Arc<rustls::ClientConfig>,
}

impl DeepgramStt {
    /// A client for `endpoint`, sending `chunk_ms` of audio per message.
    pub fn new(
        endpoint: Endpoint,
        chunk_ms: u64,
        utterance_end_ms: u64,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        Self {
            endpoint,
            chunk_bytes: (chunk_ms.clamp(20, 1_000) * 8) as usize,
            utterance_end_ms,
            tls,
        }
    }

    /// The `/v1/listen` URL with the session's query.
    pub fn listen_url(&self, options: &SttOptions) -> Result<Url, ProviderError> {
        let mut url = self.endpoint.ws_url("v1/listen")?;
        let endpointing = match options.endpointing_ms {
            0 => "false".to_string(),
            ms => ms.to_string(),
        };
        url.query_pairs_mut()
            .append_pair("model", &options.model)
            .append_pair("language", &options.language)
            .append_pair("encoding", "mulaw")
            .append_pair("sample_rate", "8000")
            .append_pair("channels", "1")
            .append_pair("interim_results", "true")
            .append_pair("endpointing", &endpointing)
            .append_pair("utterance_end_ms", &self.utterance_end_ms.to_string())
            .append_pair("vad_events", "true")
            .append_pair("smart_format", "true");
        Ok(url)
    }

    async fn connect(&self, url: &Url) -> Result<Socket, ProviderError> {
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| self.endpoint.not_configured(e.to_string()))?;
        if let Some(key) = &self.endpoint.api_key {
            let value =
                HeaderValue::from_str(&format!("Token {}", key.expose_secret())).map_err(|_| {
                    self.endpoint
                        .not_configured("API key is not a valid header".into())
                })?;
            request.headers_mut().insert("Authorization", value);
        }
        let connector = Connector::Rustls(Arc::clone(&self.tls));
        // A small read buffer: tungstenite zero-fills all of it on every read.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER);
        tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            true,
            Some(connector),
        )
        .await
        .map(|(socket, _)| socket)
        .map_err(|e| self.handshake_error(e))
    }

    fn handshake_error(&self, error: tungstenite::Error) -> ProviderError {
        match error {
            tungstenite::Error::Http(response) => ProviderError::Status {
                provider: self.endpoint.provider.clone(),
                status: response.status().as_u16(),
                body: response
                    .body()
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).chars().take(4_096).collect())
                    .unwrap_or_default(),
            },
            other => self.endpoint.connection(other.to_string()),
        }
    }
}

#[async_trait]
impl Stt for DeepgramStt {
    fn name(&self) -> &str {
        &self.endpoint.provider
    }

    async fn open(&self, options: &SttOptions) -> Result<SttSession, ProviderError> {
        let url = self.listen_url(options)?;
        let socket = self.connect(&url).await?;
        let (audio, input) = mpsc::channel(INPUT_CAPACITY);
        let (events, output) = mpsc::channel(EVENT_CAPACITY);
        let session = Session {
            endpoint: self.endpoint.clone(),
            chunk_bytes: self.chunk_bytes,
            events,
        };
        tokio::spawn(session.run(socket, input));
        Ok(SttSession {
            audio,
            events: receiver_stream(output),
        })
    }
}

struct Session {
    endpoint: Endpoint,
    chunk_bytes: usize,
    events: Events,
}

/// What the socket loop does next.
enum Next {
    Go,
    Stop,
}

impl Session {
    async fn run(self, socket: Socket, mut input: mpsc::Receiver<SttInput>) {
        let (mut sink, mut stream) = socket.split();
        let mut batch: Vec<u8> = Vec::with_capacity(self.chunk_bytes);
        let keep_alive = tokio::time::sleep(KEEP_ALIVE_AFTER);
        tokio::pin!(keep_alive);
        // Set once `CloseStream` went out: from then on the end of the socket is expected.
        let mut closing_by: Option<Instant> = None;
        loop {
            let next = tokio::select! {
                message = input.recv(), if closing_by.is_none() => {
                    let sent = match message {
                        Some(SttInput::Audio { mulaw, .. }) if batch.is_empty() && mulaw.len() >= self.chunk_bytes => {
                            // Already a whole chunk (the pipeline batches): send it as is.
                            self.send_audio(&mut sink, mulaw).await.map(|()| true)
                        }
                        Some(SttInput::Audio { mulaw, .. }) => {
                            batch.extend_from_slice(&mulaw);
                            if batch.len() >= self.chunk_bytes {
                                self.flush(&mut sink, &mut batch).await
                            } else {
                                Ok(false)
                            }
                        }
                        Some(SttInput::Finalize) => self.flush_then(&mut sink, &mut batch, wire::FINALIZE).await,
                        None => {
                            closing_by = Some(Instant::now() + CLOSE_WAIT);
                            self.flush_then(&mut sink, &mut batch, wire::CLOSE_STREAM).await
                        }
                    };
                    match sent {
                        Ok(true) => {
                            keep_alive.as_mut().reset(Instant::now() + KEEP_ALIVE_AFTER);
                            Next::Go
                        }
                        Ok(false) => Next::Go,
                        Err(error) => self.report(error).await,
                    }
                }
                () = &mut keep_alive, if closing_by.is_none() => {
                    keep_alive.as_mut().reset(Instant::now() + KEEP_ALIVE_AFTER);
                    match sink.send(Message::text(wire::KEEP_ALIVE)).await {
                        Ok(()) => Next::Go,
                        Err(e) => self.report(self.endpoint.connection(e.to_string())).await,
                    }
                }
                frame = stream.next() => self.on_frame(frame, closing_by.is_some()).await,
                () = sleep_until(closing_by) => Next::Stop,
            };
            if let Next::Stop = next {
                return;
            }
        }
    }

    /// Sends the batched audio, if any. True if something was sent.
    async fn flush(
        &self,
        sink: &mut SplitSink<Socket, Message>,
        batch: &mut Vec<u8>,
    ) -> Result<bool, ProviderError> {
        if batch.is_empty() {
            return Ok(false);
        }
        let audio = bytes::Bytes::from(std::mem::replace(
            batch,
            Vec::with_capacity(self.chunk_bytes),
        ));
        self.send_audio(sink, audio).await?;
        Ok(true)
    }

    async fn send_audio(
        &self,
        sink: &mut SplitSink<Socket, Message>,
        audio: bytes::Bytes,
    ) -> Result<(), ProviderError> {
        sink.send(Message::Binary(audio))
            .await
            .map_err(|e| self.endpoint.connection(e.to_string()))
    }

    async fn flush_then(
        &self,
        sink: &mut SplitSink<Socket, Message>,
        batch: &mut Vec<u8>,
        control: &'static str,
    ) -> Result<bool, ProviderError> {
        self.flush(sink, batch).await?;
        sink.send(Message::text(control))
            .await
            .map_err(|e| self.endpoint.connection(e.to_string()))?;
        Ok(true)
    }

    async fn on_frame(
        &self,
        frame: Option<Result<Message, tungstenite::Error>>,
        closing: bool,
    ) -> Next {
        match frame {
            Some(Ok(Message::Text(text))) => match parse(&text) {
                Parsed::Event(event) => match self.events.send(Ok(event)).await {
                    Ok(()) => Next::Go,
                    // Nobody listens any more.
                    Err(_) => Next::Stop,
                },
                Parsed::Nothing => Next::Go,
                Parsed::Error(message) => self.report(self.endpoint.protocol(message)).await,
            },
            Some(Ok(Message::Close(frame))) if !closing => {
                let reason = frame.map_or_else(
                    || "no reason".to_string(),
                    |f| format!("{} {}", u16::from(f.code), f.reason),
                );
                self.report(
                    self.endpoint
                        .connection(format!("closed by the service: {reason}")),
                )
                .await
            }
            Some(Ok(_)) => Next::Go,
            Some(Err(error)) if !closing => {
                self.report(self.endpoint.connection(error.to_string()))
                    .await
            }
            None if !closing => {
                self.report(self.endpoint.connection("connection ended"))
                    .await
            }
            // After CloseStream, the end of the socket is the end of the session.
            Some(Err(_)) | None => Next::Stop,
        }
    }

    async fn report(&self, error: ProviderError) -> Next {
        let _ = self.events.send(Err(error)).await;
        Next::Stop
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
