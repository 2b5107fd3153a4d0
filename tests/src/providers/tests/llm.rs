//! Chat completions and Whisper, through a plain HTTP client.

use super::*;
use crate::providers::wav;
use serde_json::json;

fn tool(name: &str) -> Value {
    json!({"type": "function", "function": {"name": name, "description": "a tool",
           "parameters": {"type": "object", "properties": {}}}})
}

fn request(said: &str, tools: &[&str], stream: bool) -> Value {
    let mut body = json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are a polite caller."},
            {"role": "assistant", "content": "Hello, do you have a minute?"},
            {"role": "user", "content": said},
        ],
    });
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if !tools.is_empty() {
        body["tools"] = tools.iter().map(|t| tool(t)).collect();
    }
    body
}

async fn post(emu: &ProviderEmulator, body: &Value) -> reqwest::Response {
    http()
        .post(format!("{}/chat/completions", emu.openai_base_url()))
        .bearer_auth("sk-test")
        .json(body)
        .send()
        .await
        .expect("response")
}

/// A streamed reply, reassembled as a client must.
#[derive(Debug, Default)]
pub(super) struct Streamed {
    pub text: String,
    pub deltas: usize,
    /// (id, name, arguments) per tool call index.
    pub calls: Vec<(String, String, String)>,
    pub argument_pieces: Vec<usize>,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
    pub done: bool,
}

/// Parses an SSE body strictly: every event is `data: ...` followed by a blank line.
pub(super) fn parse_sse(body: &str) -> Streamed {
    let mut out = Streamed::default();
    assert!(body.ends_with("\n\n"), "events end with a blank line");
    for event in body.trim_end().split("\n\n") {
        let data = event.strip_prefix("data: ").expect("a data line");
        assert!(!out.done, "nothing after [DONE]");
        if data == "[DONE]" {
            out.done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(data).expect("chunk is JSON");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            assert_eq!(chunk["choices"], json!([]));
            out.usage = Some(usage.clone());
            continue;
        }
        let choice = &chunk["choices"][0];
        if let Some(reason) = choice["finish_reason"].as_str() {
            out.finish_reason = Some(reason.into());
        }
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            out.text.push_str(text);
            out.deltas += 1;
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().expect("index") as usize;
            if let Some(id) = call["id"].as_str() {
                assert_eq!(index, out.calls.len(), "a new call takes the next index");
                assert_eq!(call["type"], "function");
                let name = call["function"]["name"].as_str().expect("name");
                out.calls.push((id.into(), name.into(), String::new()));
                out.argument_pieces.push(0);
            }
            if let Some(piece) = call["function"]["arguments"]
                .as_str()
                .filter(|p| !p.is_empty())
            {
                out.calls[index].2.push_str(piece);
                out.argument_pieces[index] += 1;
            }
        }
    }
    out
}

#[tokio::test]
async fn the_stream_is_valid_sse_and_echoes_the_callees_token() {
    let emu = start(ProviderConfig::instant()).await;
    let response = post(
        &emu,
        &request("yes this is token-17 speaking", &["end_call"], true),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/event-stream"));
    let reply = parse_sse(&response.text().await.expect("body"));
    assert!(reply.done);
    assert_eq!(
        reply.text,
        "Got it, you said token-17. What else can I help you with?"
    );
    assert!(reply.deltas >= 8, "word pieces, got {}", reply.deltas);
    assert!(reply.calls.is_empty());
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    let usage = reply.usage.expect("usage chunk");
    // 5 + 6 + 5 words in the messages; one completion token per delta.
    assert_eq!(usage["prompt_tokens"], 16);
    assert_eq!(usage["completion_tokens"], reply.deltas);
    assert_eq!(usage["total_tokens"], 16 + reply.deltas);
    let report = emu.report();
    assert_eq!(
        report.llm[0].last_user_text.as_deref(),
        Some("yes this is token-17 speaking")
    );
    assert_eq!(report.llm[0].reply, reply.text);
    assert!(report.llm[0].completed);
}

#[tokio::test]
async fn tool_call_arguments_arrive_split_and_rejoin_to_json() {
    let emu = start(ProviderConfig::instant()).await;
    let tools = ["set_outcome", "end_call", "add_to_dnc"];
    let response = post(&emu, &request("I'm not interested, thanks", &tools, true)).await;
    let reply = parse_sse(&response.text().await.expect("body"));
    assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
    let names: Vec<&str> = reply.calls.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(names, ["set_outcome", "end_call"]);
    assert!(
        reply.argument_pieces.iter().all(|&n| n >= 2),
        "{:?}",
        reply.argument_pieces
    );
    let outcome: Value = serde_json::from_str(&reply.calls[0].2).expect("arguments are JSON");
    assert_eq!(outcome["outcome"], "not_interested");
    assert_eq!(
        serde_json::from_str::<Value>(&reply.calls[1].2).ok(),
        Some(json!({}))
    );
    assert!(reply.calls.iter().all(|c| c.0.starts_with("call_")));
    assert!(!reply.text.is_empty());
    let report = emu.report();
    assert_eq!(report.llm[0].tool_calls[0].arguments, reply.calls[0].2);
}

#[tokio::test]
async fn tools_are_only_called_when_offered() {
    let emu = start(ProviderConfig::instant()).await;
    let response = post(&emu, &request("ok goodbye", &[], true)).await;
    let reply = parse_sse(&response.text().await.expect("body"));
    assert_eq!(reply.text, "Thanks for your time. Goodbye.");
    assert!(reply.calls.is_empty());
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    let response = post(&emu, &request("ok goodbye", &["end_call"], true)).await;
    let reply = parse_sse(&response.text().await.expect("body"));
    assert_eq!(reply.calls.len(), 1);
    assert_eq!(reply.calls[0].1, "end_call");
}

#[tokio::test]
async fn a_tool_result_gets_text_and_no_further_call() {
    let emu = start(ProviderConfig::instant()).await;
    let mut body = request("bye", &["end_call"], true);
    let messages = body["messages"].as_array_mut().expect("array");
    messages.push(json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "end_call", "arguments": "{}"}}]}));
    messages.push(json!({"role": "tool", "tool_call_id": "call_1", "content": "ok"}));
    let reply = parse_sse(&post(&emu, &body).await.text().await.expect("body"));
    assert!(reply.calls.is_empty());
    assert!(!reply.text.is_empty());
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn an_unstreamed_completion_has_the_chat_completion_shape() {
    let emu = start(ProviderConfig::instant()).await;
    let response = post(
        &emu,
        &request(
            "please call me back later",
            &["schedule_callback", "set_outcome"],
            false,
        ),
    )
    .await;
    assert_eq!(response.status(), 200);
    let completion: Value = response.json().await.expect("JSON");
    assert_eq!(completion["object"], "chat.completion");
    let choice = &completion["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let calls = choice["message"]["tool_calls"].as_array().expect("calls");
    assert_eq!(calls[0]["function"]["name"], "schedule_callback");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().expect("text"))
            .expect("JSON");
    assert!(chrono::DateTime::parse_from_rfc3339(args["at"].as_str().expect("at")).is_ok());
    assert!(completion["usage"]["completion_tokens"].as_u64() > Some(0));
}

#[tokio::test]
async fn a_wrong_key_and_a_bad_request_get_openai_errors() {
    let config =
        ProviderConfig::instant().with_keys(crate::providers::Provider::OpenAi, &["sk-right"]);
    let emu = start(config).await;
    let response = post(&emu, &request("hi", &[], true)).await;
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.expect("JSON");
    assert_eq!(error["error"]["code"], "invalid_api_key");
    let response = http()
        .post(format!("{}/chat/completions", emu.openai_base_url()))
        .bearer_auth("sk-right")
        .json(&json!({"model": "m"}))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.expect("JSON");
    assert_eq!(error["error"]["param"], "messages");
}

/// A multipart body built by hand (reqwest is built without its multipart feature).
pub(super) fn multipart(file: &[u8], model: &str) -> (String, Vec<u8>) {
    let boundary = "emulator-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\
             Content-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub(super) async fn transcribe(emu: &ProviderEmulator, file: &[u8]) -> reqwest::Response {
    let (content_type, body) = multipart(file, "whisper-1");
    http()
        .post(format!("{}/audio/transcriptions", emu.openai_base_url()))
        .bearer_auth("sk-test")
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("response")
}

#[tokio::test]
async fn whisper_transcribes_exactly_what_the_file_says() {
    let emu = start(ProviderConfig::instant()).await;
    let mut audio = silence(300);
    audio.extend(speech("call me back token-9"));
    audio.extend(silence(300));
    let response = transcribe(&emu, &wav::pcm16_file(8000, &audio)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body, json!({"text": "call me back token-9"}));
    // Damaged audio transcribes to nothing rather than to something else.
    let middle = 2400 + audio.len() / 3;
    audio[middle..middle + 200].iter_mut().for_each(|s| *s = 0);
    let body: Value = transcribe(&emu, &wav::pcm16_file(8000, &audio))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(body, json!({"text": ""}));
    let response = transcribe(&emu, b"not a wav file").await;
    assert_eq!(response.status(), 400);
    assert_eq!(emu.report().whisper.len(), 2);
}

#[tokio::test]
async fn the_first_token_waits_for_the_configured_latency() {
    let emu = start(ProviderConfig::instant().with_llm_latency_ms(250, 5)).await;
    let started = tokio::time::Instant::now();
    let mut response = post(&emu, &request("hello token-4", &[], true)).await;
    let headers_at = started.elapsed();
    let first = response.chunk().await.expect("chunk").expect("some");
    let first_at = started.elapsed();
    assert!(first.starts_with(b"data: "));
    assert!(
        headers_at < Duration::from_millis(200),
        "headers go out at once"
    );
    assert!(first_at >= Duration::from_millis(250), "{first_at:?}");
    while response.chunk().await.expect("chunk").is_some() {}
    // At least one delay per further event.
    assert!(started.elapsed() >= Duration::from_millis(250 + 5 * 10));
}
