//! Chunk decoding: text, tool-call assembly, usage, errors.

use super::*;
use serde_json::json;

fn chunk(delta: Value, finish: Option<&str>) -> String {
    json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).to_string()
}

fn ok(events: Decoded) -> Vec<LlmEvent> {
    events.into_iter().map(Result::unwrap).collect()
}

fn call(id: &str, name: &str, arguments: &str) -> LlmEvent {
    LlmEvent::ToolCall(ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    })
}

#[test]
fn text_deltas_become_tokens_and_the_usage_chunk_becomes_usage() {
    let mut decoder = ChunkDecoder::new("openai");
    let mut events = ok(decoder.decode(&chunk(json!({"role": "assistant", "content": ""}), None)));
    events.extend(ok(decoder.decode(&chunk(json!({"content": "Hel"}), None))));
    events.extend(ok(decoder.decode(&chunk(json!({"content": "lo"}), None))));
    events.extend(ok(decoder.decode(&chunk(json!({}), Some("stop")))));
    let usage = json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}});
    events.extend(ok(decoder.decode(&usage.to_string())));
    events.extend(ok(decoder.decode("[DONE]")));
    events.extend(ok(decoder.finish()));
    assert_eq!(
        events,
        vec![
            LlmEvent::Token("Hel".into()),
            LlmEvent::Token("lo".into()),
            LlmEvent::Usage {
                prompt_tokens: 12,
                completion_tokens: 3
            },
        ]
    );
    assert!(decoder.is_done());
}

#[test]
fn tool_call_fragments_are_joined_per_index_and_emitted_when_complete() {
    let mut decoder = ChunkDecoder::new("openai");
    let first = json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "set_outcome", "arguments": ""}}]});
    assert!(decoder.decode(&chunk(first, None)).is_empty());
    let part = json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"outc"}}]});
    assert!(decoder.decode(&chunk(part, None)).is_empty());
    let part = json!({"tool_calls": [{"index": 0, "function": {"arguments": "ome\":\"sale\"}"}}]});
    assert!(decoder.decode(&chunk(part, None)).is_empty());
    // A second call starting completes the first.
    let second = json!({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "end_call", "arguments": "{}"}}]});
    assert_eq!(
        ok(decoder.decode(&chunk(second, None))),
        vec![call("call_a", "set_outcome", r#"{"outcome":"sale"}"#)]
    );
    assert_eq!(
        ok(decoder.decode(&chunk(json!({}), Some("tool_calls")))),
        vec![call("call_b", "end_call", "{}")]
    );
    assert!(ok(decoder.decode("[DONE]")).is_empty());
}

#[test]
fn calls_without_index_or_id_still_come_out_whole() {
    // As some OpenAI-compatible servers send them: the whole call in one chunk.
    let mut decoder = ChunkDecoder::new("ollama");
    let whole = json!({"tool_calls": [
        {"function": {"name": "end_call", "arguments": "{}"}},
        {"function": {"name": "set_outcome", "arguments": "{\"outcome\":\"x\"}"}},
    ]});
    let mut events = ok(decoder.decode(&chunk(whole, None)));
    events.extend(ok(decoder.decode("[DONE]")));
    assert_eq!(
        events,
        vec![
            call("call_0", "end_call", "{}"),
            call("call_1", "set_outcome", r#"{"outcome":"x"}"#)
        ]
    );
}

#[test]
fn a_repeated_name_is_not_doubled() {
    let mut decoder = ChunkDecoder::new("vllm");
    for args in ["{", "}"] {
        let part = json!({"tool_calls": [{"index": 0, "id": "x", "function": {"name": "end_call", "arguments": args}}]});
        decoder.decode(&chunk(part, None));
    }
    assert_eq!(
        ok(decoder.decode("[DONE]")),
        vec![call("x", "end_call", "{}")]
    );
}

#[test]
fn an_error_object_mid_stream_becomes_a_status_error() {
    let mut decoder = ChunkDecoder::new("openai");
    let error = json!({"error": {"message": "overloaded", "type": "server_error", "code": null}});
    let events = decoder.decode(&error.to_string());
    assert!(
        matches!(&events[0], Err(ProviderError::Status { status: 500, body, .. }) if body.contains("overloaded"))
    );
    let limited =
        json!({"error": {"message": "slow down", "type": "tokens", "code": "rate_limit_exceeded"}});
    assert!(matches!(
        &decoder.decode(&limited.to_string())[0],
        Err(ProviderError::Status { status: 429, .. })
    ));
    let invalid = json!({"error": {"message": "bad", "type": "invalid_request_error"}});
    assert!(matches!(
        &decoder.decode(&invalid.to_string())[0],
        Err(ProviderError::Status { status: 400, .. })
    ));
}

#[test]
fn a_body_cut_short_is_an_error_and_garbage_is_a_protocol_error() {
    let mut decoder = ChunkDecoder::new("openai");
    decoder.decode(&chunk(json!({"content": "Hi"}), None));
    assert!(matches!(
        decoder.finish()[0],
        Err(ProviderError::Connection { .. })
    ));
    assert!(matches!(
        decoder.decode("{not json")[0],
        Err(ProviderError::Protocol { .. })
    ));
    // A reply that finished but lost its [DONE] is fine.
    let mut decoder = ChunkDecoder::new("openai");
    decoder.decode(&chunk(json!({"content": "Hi"}), Some("stop")));
    assert!(decoder.finish().is_empty());
}
