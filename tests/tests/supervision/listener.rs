//! A supervisor's end of the listen WebSocket: collects both channels and the text
//! messages, sends controls and the supervisor's voice.

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use outbound_tests::rig::Api;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the listener received so far.
#[derive(Default)]
pub struct Heard {
    pub left: Vec<i16>,
    pub right: Vec<i16>,
    pub texts: Vec<Value>,
    /// Binary messages that were not one 20 ms stereo frame.
    pub odd_frames: usize,
}

pub struct Listener {
    sink: SplitSink<Socket, Message>,
    pub heard: Arc<Mutex<Heard>>,
}

/// Opens `/api/v1/calls/{call}/listen` as `api`'s user; the HTTP status if refused.
pub async fn open(api: &Api, call: &str) -> Result<Socket, u16> {
    let url = format!(
        "{}/api/v1/calls/{call}/listen",
        api.base.replacen("http://", "ws://", 1)
    );
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", api.token).parse().unwrap(),
    );
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(Error::Http(response)) => Err(response.status().as_u16()),
        Err(error) => panic!("listen stream: {error}"),
    }
}

impl Listener {
    /// Connects as soon as the call's worker can be reached (409 until it has reported).
    pub async fn connect(api: &Api, call: &str) -> Listener {
        let started = Instant::now();
        let socket = loop {
            match open(api, call).await {
                Ok(socket) => break socket,
                Err(409) if started.elapsed() < Duration::from_secs(10) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(status) => panic!("the listen stream was refused: {status}"),
            }
        };
        let (sink, mut stream) = socket.split();
        let heard = Arc::new(Mutex::new(Heard::default()));
        let collected = heard.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let mut heard = collected.lock().unwrap();
                match message {
                    Message::Binary(frame) if frame.len() == 1280 => {
                        for pair in frame.chunks_exact(4) {
                            heard.left.push(i16::from_le_bytes([pair[0], pair[1]]));
                            heard.right.push(i16::from_le_bytes([pair[2], pair[3]]));
                        }
                    }
                    Message::Binary(_) => heard.odd_frames += 1,
                    Message::Text(text) => heard
                        .texts
                        .push(serde_json::from_str(text.as_str()).unwrap()),
                    _ => {}
                }
            }
        });
        Listener { sink, heard }
    }

    /// Sends a control as text and waits for its result.
    pub async fn control(&mut self, control: Value) -> Value {
        let before = self.results().len();
        self.sink
            .send(Message::Text(control.to_string().into()))
            .await
            .unwrap();
        let started = Instant::now();
        loop {
            if let Some(result) = self.results().get(before) {
                return result.clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no result for {control}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn results(&self) -> Vec<Value> {
        let heard = self.heard.lock().unwrap();
        heard
            .texts
            .iter()
            .filter(|t| t["type"] == "result")
            .cloned()
            .collect()
    }

    /// Says `text` in test speech code as the supervisor, paced in real time.
    pub async fn speak(&mut self, text: &str) {
        let mut pcm = outbound_tests::speech_code::encode(text, 16_000).unwrap();
        pcm.extend(std::iter::repeat_n(0, 16_000 / 5));
        let mut clock = tokio::time::interval(Duration::from_millis(20));
        for chunk in pcm.chunks(320) {
            clock.tick().await;
            let bytes: Vec<u8> = chunk.iter().flat_map(|s| s.to_le_bytes()).collect();
            self.sink.send(Message::Binary(bytes.into())).await.unwrap();
        }
    }

    /// Waits until the left (callee) channel decodes an utterance containing `text`.
    pub async fn wait_for_callee(&self, text: &str) {
        let started = Instant::now();
        loop {
            let left = self.heard.lock().unwrap().left.clone();
            if crate::decode_all(&left).iter().any(|u| u.contains(text)) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the supervisor never heard the callee say {text}: {:?}",
                crate::decode_all(&left)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Closes the stream; what was heard.
    pub async fn close(mut self) -> Arc<Mutex<Heard>> {
        let _ = self.sink.close().await;
        self.heard
    }
}
