//! The Media Streams client for `<Connect><Stream>`: connects to the agent's WebSocket as
//! Twilio does and carries the callee's audio both ways.
//!
//! The upgrade request carries `X-Twilio-Signature`: HMAC-SHA1 over the URL connected to
//! (the `<Stream url>` without any query string, which Twilio drops) with no parameters.
//! Messages follow PROTOCOLS.md: `connected`, `start`, then `media` every 20 ms on the
//! phone clock, `dtmf`, echoed `mark`s, and `stop` when the call side ends the stream.
//! Only `ws://` works here (no TLS client is built in).

use super::call::{CallCtx, Interrupt, Interrupts};
use super::phone::{Outbound, Phone};
use super::report::{MarkRecord, StreamReport};
use super::signature;
use super::twiml::StreamVerb;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::{timeout, Duration};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// How a stream ended.
#[derive(Debug)]
pub(crate) enum StreamEnd {
    /// The agent closed it (or never accepted it): TwiML after `<Connect>` runs next.
    Finished,
    /// The call side ended it.
    Interrupted(Interrupt),
}

/// Runs one stream until either side ends it.
pub(crate) async fn run(
    ctx: &CallCtx,
    verb: &StreamVerb,
    phone: &Phone,
    interrupts: &mut Interrupts,
) -> StreamEnd {
    let (url, query) = match verb.url.split_once('?') {
        Some((url, query)) => (url.to_string(), Some(query.to_string())),
        None => (verb.url.clone(), None),
    };
    if let Some(query) = query {
        ctx.event(format!(
            "stream url query {query:?} dropped (Twilio does not pass it)"
        ));
    }
    let stream_sid = super::new_sid("MZ");
    let sig = signature::sign(&ctx.shared.config.auth_token, &url, &[]);
    let index = ctx.with_report(|r| {
        r.streams.push(StreamReport {
            url: url.clone(),
            stream_sid: stream_sid.clone(),
            signature: sig.clone(),
            custom_parameters: verb.parameters.clone(),
            started_ms: phone.now_ms(),
            ..StreamReport::default()
        });
        r.streams.len() - 1
    });
    let index = index.unwrap_or_default();
    let end = |ctx: &CallCtx, why: String| {
        let now = phone.now_ms();
        ctx.event(format!("stream {stream_sid} ended: {why}"));
        ctx.with_stream(index, |s| {
            s.ended_ms = Some(now);
            s.end = Some(why);
        });
    };

    let request = url.as_str().into_client_request().and_then(|mut request| {
        let value =
            HeaderValue::from_str(&sig).map_err(tokio_tungstenite::tungstenite::Error::from)?;
        request.headers_mut().insert(signature::HEADER, value);
        Ok(request)
    });
    let connected = match request {
        Ok(request) => timeout(
            Duration::from_secs(10),
            // tungstenite zero-fills its whole read buffer (128 KiB by default) per read.
            tokio_tungstenite::connect_async_with_config(
                request,
                Some(WebSocketConfig::default().read_buffer_size(4096)),
                false,
            ),
        )
        .await
        .map_err(|_| "timed out".to_string())
        .and_then(|r| r.map_err(|e| e.to_string())),
        Err(e) => Err(e.to_string()),
    };
    let ws = match connected {
        Ok((ws, _)) => ws,
        Err(e) => {
            end(ctx, format!("connect_failed: {e}"));
            return StreamEnd::Finished;
        }
    };
    ctx.event(format!("stream {stream_sid} connected to {url}"));
    let (mut sink, mut source) = ws.split();
    let mut seq = Sequence::default();
    let (account, call) = (ctx.shared.config.account_sid.clone(), ctx.sid.clone());
    let hello = [
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        json!({
            "event": "start",
            "sequenceNumber": seq.next(),
            "streamSid": stream_sid,
            "start": {
                "accountSid": account,
                "streamSid": stream_sid,
                "callSid": call,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": verb.parameters,
            }
        }),
    ];
    for message in hello {
        if sink.send(Message::text(message.to_string())).await.is_err() {
            end(ctx, "server_closed".into());
            return StreamEnd::Finished;
        }
    }

    let (tx, mut rx) = mpsc::channel(64);
    phone.attach(tx);
    let mut chunk = 0u64;
    let outcome = loop {
        let outgoing = tokio::select! {
            out = rx.recv() => match out {
                Some(out) => outbound_message(ctx, index, phone, &mut seq, &stream_sid, &mut chunk, out),
                None => break StreamEnd::Finished,
            },
            incoming = source.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    for name in handle_incoming(ctx, index, phone, &stream_sid, text.as_str()) {
                        let echo = mark_message(&mut seq, &stream_sid, &name);
                        if sink.send(Message::text(echo.to_string())).await.is_err() {
                            break;
                        }
                    }
                    continue;
                }
                Some(Ok(Message::Binary(_))) => {
                    ctx.with_stream(index, |s| s.invalid_messages.push("binary frame".into()));
                    continue;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break StreamEnd::Finished,
                Some(Ok(_)) => continue,
            },
            interrupt = interrupts.next() => break StreamEnd::Interrupted(interrupt),
        };
        if sink.feed(Message::text(outgoing)).await.is_err() {
            break StreamEnd::Finished;
        }
        // Frames that queued up while this task waited for the CPU go out in one write:
        // a late harness catches up with one system call, not one per 20 ms frame. Each is
        // still its own WebSocket message, as Twilio sends them.
        let mut failed = false;
        while let Ok(out) = rx.try_recv() {
            let message =
                outbound_message(ctx, index, phone, &mut seq, &stream_sid, &mut chunk, out);
            if sink.feed(Message::text(message)).await.is_err() {
                failed = true;
                break;
            }
        }
        if failed || sink.flush().await.is_err() {
            break StreamEnd::Finished;
        }
    };
    phone.detach();
    let dropped = phone.take_queue_drops();
    ctx.with_stream(index, |s| s.media_dropped = dropped);
    match &outcome {
        StreamEnd::Finished => end(ctx, "server_closed".into()),
        StreamEnd::Interrupted(interrupt) => {
            let stop = json!({
                "event": "stop",
                "sequenceNumber": seq.next(),
                "streamSid": stream_sid,
                "stop": {"accountSid": account, "callSid": call},
            });
            let _ = sink.send(Message::text(stop.to_string())).await;
            let _ = timeout(Duration::from_secs(2), sink.close()).await;
            end(ctx, interrupt.label().into());
        }
    }
    outcome
}

/// The message for something the phone asked the stream to send, counted in the report.
fn outbound_message(
    ctx: &CallCtx,
    index: usize,
    phone: &Phone,
    seq: &mut Sequence,
    stream_sid: &str,
    chunk: &mut u64,
    out: Outbound,
) -> String {
    match out {
        Outbound::Media(bytes) => {
            *chunk += 1;
            ctx.with_stream(index, |s| s.media_sent += 1);
            media_message(seq, stream_sid, *chunk, &bytes)
        }
        Outbound::Dtmf(digit) => {
            ctx.with_stream(index, |s| s.dtmf_sent.push(digit));
            json!({
                "event": "dtmf",
                "streamSid": stream_sid,
                "sequenceNumber": seq.next(),
                "dtmf": {"track": "inbound_track", "digit": digit.to_string()},
            })
            .to_string()
        }
        Outbound::Mark { name, cleared } => {
            record_echo(ctx, index, &name, phone.now_ms(), cleared);
            mark_message(seq, stream_sid, &name).to_string()
        }
    }
}

/// `sequenceNumber`s: strings, counting from 1 at `start`.
#[derive(Default)]
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> String {
        self.0 += 1;
        self.0.to_string()
    }
}

/// A callee `media` message, written directly: the harness sends 50 per call-second,
/// and building a JSON tree for each made the emulator, not the worker, the bottleneck.
/// Every field is a plain ASCII token (sids, numbers, base64), so nothing needs escaping.
fn media_message(seq: &mut Sequence, stream_sid: &str, chunk: u64, audio: &[u8]) -> String {
    let mut out = String::with_capacity(200 + audio.len() * 4 / 3);
    out.push_str(r#"{"event":"media","sequenceNumber":""#);
    out.push_str(&seq.next());
    out.push_str(r#"","streamSid":""#);
    out.push_str(stream_sid);
    out.push_str(&format!(
        r#"","media":{{"track":"inbound","chunk":"{chunk}","timestamp":"{}","payload":""#,
        (chunk - 1) * 20
    ));
    base64::engine::general_purpose::STANDARD.encode_string(audio, &mut out);
    out.push_str(r#""}}"#);
    out
}

fn mark_message(seq: &mut Sequence, stream_sid: &str, name: &str) -> Value {
    json!({
        "event": "mark",
        "sequenceNumber": seq.next(),
        "streamSid": stream_sid,
        "mark": {"name": name},
    })
}

fn record_echo(ctx: &CallCtx, index: usize, name: &str, now: u64, cleared: bool) {
    ctx.with_stream(index, |s| {
        if let Some(mark) = s
            .marks
            .iter_mut()
            .find(|m| m.name == name && m.echoed_ms.is_none())
        {
            mark.echoed_ms = Some(now);
            mark.cleared = cleared;
        }
    });
}

/// The fields of an agent message the emulator reads (anything else is ignored).
#[derive(serde::Deserialize)]
struct AgentMessage<'a> {
    #[serde(borrow)]
    event: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, rename = "streamSid")]
    stream_sid: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    media: Option<Named<'a>>,
    #[serde(borrow)]
    mark: Option<Named<'a>>,
}

/// `media.payload` or `mark.name`.
#[derive(serde::Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    payload: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
}

/// Handles one message from the agent; returns marks to echo at once (after a clear).
fn handle_incoming(
    ctx: &CallCtx,
    index: usize,
    phone: &Phone,
    stream_sid: &str,
    text: &str,
) -> Vec<String> {
    let invalid = |why: String| {
        ctx.with_stream(index, |s| s.invalid_messages.push(why));
        Vec::new()
    };
    // Typed and borrowed: one `media` per 60 ms per call makes this the emulator's hot path.
    let Ok(message) = serde_json::from_str::<AgentMessage<'_>>(text) else {
        return invalid(format!("not JSON: {text:.80}"));
    };
    if message.stream_sid.as_deref() != Some(stream_sid) {
        return invalid(format!("wrong or missing streamSid: {text:.120}"));
    }
    match message.event.as_deref() {
        Some("media") => {
            let payload = message.media.as_ref().and_then(|m| m.payload.as_deref());
            match base64::engine::general_purpose::STANDARD.decode(payload.unwrap_or_default()) {
                Ok(bytes) => {
                    phone.play(&bytes);
                    ctx.with_stream(index, |s| s.media_received += 1);
                    Vec::new()
                }
                Err(_) => invalid("media payload is not base64".into()),
            }
        }
        Some("mark") => {
            let Some(name) = message.mark.as_ref().and_then(|m| m.name.as_deref()) else {
                return invalid("mark without mark.name".into());
            };
            let now = phone.now_ms();
            ctx.with_stream(index, |s| {
                s.marks.push(MarkRecord {
                    name: name.to_string(),
                    received_ms: now,
                    echoed_ms: None,
                    cleared: false,
                })
            });
            phone.mark(name.to_string());
            Vec::new()
        }
        Some("clear") => {
            let (marks, record) = phone.clear();
            ctx.event(format!("agent cleared {} ms of audio", record.dropped_ms));
            ctx.with_stream(index, |s| s.clears.push(record));
            let now = phone.now_ms();
            for name in &marks {
                record_echo(ctx, index, name, now, true);
            }
            marks
        }
        _ => invalid(format!("unknown event: {text:.120}")),
    }
}
