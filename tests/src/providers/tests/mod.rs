//! Tests that talk to a running emulator over real sockets, with plain clients
//! (tokio-tungstenite, reqwest) and the test speech code: nothing of the product.

mod faults;
mod llm;
mod load;
mod stt;
mod tts;
mod tts_sockets;

use super::{ProviderConfig, ProviderEmulator};
use crate::audio::mulaw;
use crate::speech_code::{self, DecodeEvent, Decoder};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The query the product sends.
pub(super) const PRODUCT_QUERY: &str = "model=nova-3&encoding=mulaw&sample_rate=8000&channels=1\
    &interim_results=true&endpointing=300&utterance_end_ms=1000&vad_events=true&smart_format=true";

pub(super) async fn start(config: ProviderConfig) -> ProviderEmulator {
    ProviderEmulator::start(config)
        .await
        .expect("emulator starts")
}

/// `ms` of silence at 8 kHz.
pub(super) fn silence(ms: usize) -> Vec<i16> {
    vec![0; ms * 8]
}

/// `text` in the speech code at 8 kHz.
pub(super) fn speech(text: &str) -> Vec<i16> {
    speech_code::encode(text, 8000).expect("encodable")
}

/// Every text the speech code decodes from `pcm` at `rate`.
pub(super) fn decode_texts(pcm: &[i16], rate: u32) -> Vec<String> {
    let mut decoder = Decoder::new(rate);
    let mut events = decoder.push(pcm);
    events.extend(decoder.finish());
    events
        .into_iter()
        .filter_map(|e| match e {
            DecodeEvent::Utterance(u) => Some(u.text),
            DecodeEvent::Error(_) => None,
        })
        .collect()
}

pub(super) fn pcm16le(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

pub(super) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

pub(super) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a Deepgram socket at `path?query` with `Authorization: Token key`.
pub(super) async fn connect(
    emu: &ProviderEmulator,
    path: &str,
    query: &str,
    key: &str,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}{path}?{query}", emu.ws_base_url());
    let mut request = url.into_client_request()?;
    let value = HeaderValue::from_str(&format!("Token {key}")).expect("header");
    request.headers_mut().insert("authorization", value);
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

/// Sends `pcm` as 20 ms mu-law frames, as fast as the socket takes them.
pub(super) async fn send_mulaw(ws: &mut Socket, pcm: &[i16]) {
    for frame in mulaw::encode(pcm).chunks(160) {
        ws.send(Message::binary(frame.to_vec()))
            .await
            .expect("frame sent");
    }
}

pub(super) async fn send_json(ws: &mut Socket, value: Value) {
    ws.send(Message::text(value.to_string()))
        .await
        .expect("message sent");
}

/// What came back on a socket.
#[derive(Debug, Default)]
pub(super) struct Received {
    pub json: Vec<Value>,
    pub binary: Vec<u8>,
    pub close: Option<CloseFrame>,
    /// The connection ended without a close frame.
    pub reset: bool,
}

impl Received {
    pub(super) fn of_type(&self, kind: &str) -> Vec<&Value> {
        self.json.iter().filter(|m| m["type"] == kind).collect()
    }

    pub(super) fn finals(&self) -> Vec<&Value> {
        self.of_type("Results")
            .into_iter()
            .filter(|m| m["is_final"] == true)
            .collect()
    }

    pub(super) fn texts(&self) -> Vec<String> {
        self.of_type("Results")
            .iter()
            .filter_map(|m| m["channel"]["alternatives"][0]["transcript"].as_str())
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect()
    }
}

/// Reads until `done` holds for what was received, the socket ends, or `limit` passes.
pub(super) async fn read_until(
    ws: &mut Socket,
    limit: Duration,
    done: impl Fn(&Received) -> bool,
) -> Received {
    let mut got = Received::default();
    let deadline = tokio::time::Instant::now() + limit;
    while !done(&got) {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Text(text)))) => {
                got.json
                    .push(serde_json::from_str(text.as_str()).expect("JSON message"));
            }
            Ok(Some(Ok(Message::Binary(bytes)))) => got.binary.extend_from_slice(&bytes),
            Ok(Some(Ok(Message::Close(frame)))) => {
                got.close = frame;
                break;
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_))) | Ok(None) => {
                got.reset = true;
                break;
            }
        }
    }
    got
}

/// Seconds as a JSON number.
pub(super) fn secs(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}
