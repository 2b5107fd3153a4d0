//! A supervisor's end of the listen WebSocket: collects both channels and the text
//! messages, sends controls and the supervisor's voice.

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use outbound_tests::rig::Api;
use outbound_tests::speech_code::{DecodeEvent, Decoder};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// 20 ms chunks of the supervisor's voice sent ahead of real time (600 ms, within the
/// worker's 1 s queue): what reaches the phone ahead of its playout outlasts the stalls
/// of the test's one thread (see `rig`), as the agent's pacer lead does.
const SPEAK_AHEAD: usize = 30;

/// What the listener received so far.
pub struct Heard {
    /// Utterances decoded from the left (callee) channel, as they complete.
    pub left: Vec<String>,
    /// The same from the right channel (our side).
    pub right: Vec<String>,
    pub texts: Vec<Value>,
    /// Binary messages that were not one 20 ms stereo frame.
    pub odd_frames: usize,
    /// 20 ms stereo frames received.
    pub frames: usize,
    /// What a failure shows besides the texts: utterances that started on a channel and
    /// could not be read (with their frame numbers), the frames with sound on the right
    /// channel, and when the last frame arrived.
    faults: Vec<String>,
    loud_right_frames: usize,
    /// Runs of frames with sound on the right channel (first and last frame number).
    loud_right_runs: Vec<(usize, usize)>,
    last_frame_at: Option<Instant>,
    // Decoded frame by frame as they arrive: re-decoding the whole call at every look
    // would hold up the test's one thread, which runs the call too.
    left_decoder: Decoder,
    right_decoder: Decoder,
}

impl Heard {
    fn new() -> Self {
        Heard {
            left: Vec::new(),
            right: Vec::new(),
            texts: Vec::new(),
            odd_frames: 0,
            frames: 0,
            faults: Vec::new(),
            loud_right_frames: 0,
            loud_right_runs: Vec::new(),
            last_frame_at: None,
            left_decoder: Decoder::new(16_000),
            right_decoder: Decoder::new(16_000),
        }
    }

    fn frame(&mut self, frame: &[u8]) {
        self.frames += 1;
        self.last_frame_at = Some(Instant::now());
        let (mut left, mut right) = (Vec::with_capacity(320), Vec::with_capacity(320));
        for pair in frame.chunks_exact(4) {
            left.push(i16::from_le_bytes([pair[0], pair[1]]));
            right.push(i16::from_le_bytes([pair[2], pair[3]]));
        }
        if right.iter().any(|s| s.unsigned_abs() > 300) {
            self.loud_right_frames += 1;
            let n = self.frames - 1;
            // A run goes on over the code's 40 ms dips between syllables.
            match self.loud_right_runs.last_mut() {
                Some((_, last)) if n <= *last + 3 => *last = n,
                _ => self.loud_right_runs.push((n, n)),
            }
        }
        let events = self.left_decoder.push(&left);
        self.take("left", events);
        let events = self.right_decoder.push(&right);
        self.take("right", events);
    }

    /// Ends both channels: what was complete when the stream closed.
    fn finish(&mut self) {
        let events = self.left_decoder.finish();
        self.take("left", events);
        let events = self.right_decoder.finish();
        self.take("right", events);
    }

    fn take(&mut self, channel: &str, events: Vec<DecodeEvent>) {
        for event in events {
            match event {
                DecodeEvent::Utterance(u) if channel == "left" => self.left.push(u.text),
                DecodeEvent::Utterance(u) => self.right.push(u.text),
                // Frame numbers: 320 samples of 16 kHz per 20 ms frame.
                DecodeEvent::Error(e) => self.faults.push(format!(
                    "{channel} {:?} in frames {}-{}",
                    e.fault,
                    e.start_sample / 320,
                    e.end_sample / 320
                )),
            }
        }
    }

    /// What a failure shows of the stream besides the decoded texts.
    pub fn diagnosis(&self) -> String {
        format!(
            "{} frames, {} with sound on the right in runs {:?}, last {:?} ago; faults {:?}; left {:?}",
            self.frames,
            self.loud_right_frames,
            self.loud_right_runs,
            self.last_frame_at.map(|at| at.elapsed()),
            self.faults,
            self.left
        )
    }
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
        let heard = Arc::new(Mutex::new(Heard::new()));
        let collected = heard.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let mut heard = collected.lock().unwrap();
                match message {
                    Message::Binary(frame) if frame.len() == 1280 => heard.frame(&frame),
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

    /// Says `text` in test speech code as the supervisor: the first [`SPEAK_AHEAD`] chunks
    /// at once, the rest in real time.
    pub async fn speak(&mut self, text: &str) {
        let mut pcm = outbound_tests::speech_code::encode(text, 16_000).unwrap();
        pcm.extend(std::iter::repeat_n(0, 16_000 / 5));
        let mut clock = tokio::time::interval(Duration::from_millis(20));
        for (i, chunk) in pcm.chunks(320).enumerate() {
            if i >= SPEAK_AHEAD {
                clock.tick().await;
            }
            let bytes: Vec<u8> = chunk.iter().flat_map(|s| s.to_le_bytes()).collect();
            self.sink.send(Message::Binary(bytes.into())).await.unwrap();
        }
    }

    /// Waits until the left (callee) channel decodes an utterance containing `text`.
    pub async fn wait_for_callee(&self, text: &str) {
        assert!(
            self.hears(text, |heard| &heard.left).await,
            "the supervisor never heard the callee say {text}: {}",
            self.diagnosis()
        );
    }

    /// Whether the right channel (the agent, or a line said for the supervisor) decodes
    /// an utterance containing `text` within 20 s.
    pub async fn hears_agent(&self, text: &str) -> bool {
        self.hears(text, |heard| &heard.right).await
    }

    /// What a failure shows of the stream (see [`Heard::diagnosis`]).
    pub fn diagnosis(&self) -> String {
        let heard = self.heard.lock().unwrap();
        format!("right {:?}; {}", heard.right, heard.diagnosis())
    }

    /// Whether `channel` decodes an utterance containing `text` within 20 s.
    async fn hears(&self, text: &str, channel: fn(&Heard) -> &Vec<String>) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if channel(&self.heard.lock().unwrap())
                .iter()
                .any(|u| u.contains(text))
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    /// Closes the stream; what was heard.
    pub async fn close(mut self) -> Arc<Mutex<Heard>> {
        let _ = self.sink.close().await;
        self.heard.lock().unwrap().finish();
        self.heard
    }
}
