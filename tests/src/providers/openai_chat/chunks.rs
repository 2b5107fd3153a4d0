//! The shape of a reply on the wire: the deltas it is streamed as, each
//! `chat.completion.chunk`, the final usage chunk, and the unstreamed `chat.completion`.
//!
//! Text goes out in word pieces of at most five bytes; each tool call starts with a delta
//! carrying `id`, `type` and `function.name` with empty arguments, and its arguments follow
//! in pieces of at most six bytes (at least two pieces), so clients must concatenate them
//! per `index` as they must with the real service.

use super::brain::Reply;
use crate::providers::report::ReportedToolCall;
use serde_json::{json, Value};

/// One streamed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delta {
    /// `{"role": "assistant", "content": ""}`: OpenAI's first chunk.
    Role,
    Content(String),
    ToolStart {
        index: usize,
        id: String,
        name: String,
    },
    ToolArguments {
        index: usize,
        piece: String,
    },
    /// The empty delta with `finish_reason`.
    Finish(&'static str),
}

/// A reply laid out for sending.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub deltas: Vec<Delta>,
    /// The content sent.
    pub text: String,
    pub calls: Vec<ReportedToolCall>,
    pub finish_reason: &'static str,
    /// Content pieces plus argument pieces: what the usage reports as completion tokens.
    pub completion_tokens: u64,
}

/// Splits text into word pieces of at most 5 bytes, spaces leading.
pub(crate) fn text_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, pieces: &mut Vec<String>| {
        let bytes = std::mem::take(word).into_bytes();
        // The reply is ASCII, so any byte split is a char split.
        pieces.extend(
            bytes
                .chunks(5)
                .map(|c| String::from_utf8_lossy(c).into_owned()),
        );
    };
    for c in text.chars() {
        if c == ' ' && !word.trim().is_empty() {
            flush(&mut word, &mut pieces);
        }
        word.push(c);
    }
    if !word.is_empty() {
        flush(&mut word, &mut pieces);
    }
    pieces
}

fn argument_pieces(arguments: &str) -> Vec<String> {
    let size = 6.min(arguments.len().div_ceil(2)).max(1);
    arguments
        .as_bytes()
        .chunks(size)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

fn call_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..24)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("call_{tail}")
}

/// Lays `reply` out as deltas, honouring a token limit (cut text, no tools, `length`) and
/// `parallel_tool_calls: false` (the first call only).
pub(crate) fn plan(reply: &Reply, max_tokens: Option<u64>, parallel: bool) -> Plan {
    let mut pieces = text_pieces(&reply.text);
    let calls: Vec<(ReportedToolCall, Vec<String>)> = reply
        .calls
        .iter()
        .take(if parallel { usize::MAX } else { 1 })
        .map(|c| {
            let arguments = c.arguments.to_string();
            let split = argument_pieces(&arguments);
            let call = ReportedToolCall {
                id: call_id(),
                name: c.name.to_string(),
                arguments,
            };
            (call, split)
        })
        .collect();
    let wanted = pieces.len() + calls.iter().map(|(_, s)| s.len()).sum::<usize>();
    let (calls, finish_reason) = match max_tokens {
        Some(max) if (wanted as u64) > max => {
            pieces.truncate(max as usize);
            (Vec::new(), "length")
        }
        _ if calls.is_empty() => (calls, "stop"),
        _ => (calls, "tool_calls"),
    };
    let mut deltas = vec![Delta::Role];
    deltas.extend(pieces.iter().cloned().map(Delta::Content));
    for (index, (call, split)) in calls.iter().enumerate() {
        deltas.push(Delta::ToolStart {
            index,
            id: call.id.clone(),
            name: call.name.clone(),
        });
        deltas.extend(split.iter().map(|piece| Delta::ToolArguments {
            index,
            piece: piece.clone(),
        }));
    }
    deltas.push(Delta::Finish(finish_reason));
    let completion_tokens =
        (pieces.len() + calls.iter().map(|(_, s)| s.len()).sum::<usize>()) as u64;
    Plan {
        deltas,
        text: pieces.concat(),
        calls: calls.into_iter().map(|(c, _)| c).collect(),
        finish_reason,
        completion_tokens,
    }
}

/// What every chunk of one response shares.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub id: String,
    pub created: i64,
    pub model: String,
    /// `stream_options.include_usage`: chunks carry `"usage": null` and a usage chunk ends.
    pub include_usage: bool,
}

/// Token counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub prompt: u64,
    pub completion: u64,
}

impl Usage {
    fn json(self) -> Value {
        json!({
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt + self.completion,
        })
    }
}

/// One `chat.completion.chunk`.
pub(crate) fn chunk(env: &Envelope, delta: &Delta) -> Value {
    let (delta, finish) = match delta {
        Delta::Role => (
            json!({"role": "assistant", "content": "", "refusal": null}),
            None,
        ),
        Delta::Content(text) => (json!({"content": text}), None),
        Delta::ToolStart { index, id, name } => (
            json!({"tool_calls": [{
                "index": index, "id": id, "type": "function",
                "function": {"name": name, "arguments": ""},
            }]}),
            None,
        ),
        Delta::ToolArguments { index, piece } => (
            json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
            None,
        ),
        Delta::Finish(reason) => (json!({}), Some(*reason)),
    };
    let mut chunk = json!({
        "id": env.id,
        "object": "chat.completion.chunk",
        "created": env.created,
        "model": env.model,
        "system_fingerprint": "fp_emulator",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
    });
    if env.include_usage {
        chunk["usage"] = Value::Null;
    }
    chunk
}

/// The last chunk when usage was asked for: no choices, just the counts.
pub(crate) fn usage_chunk(env: &Envelope, usage: Usage) -> Value {
    json!({
        "id": env.id,
        "object": "chat.completion.chunk",
        "created": env.created,
        "model": env.model,
        "system_fingerprint": "fp_emulator",
        "choices": [],
        "usage": usage.json(),
    })
}

/// The unstreamed `chat.completion`.
pub(crate) fn completion(env: &Envelope, plan: &Plan, usage: Usage) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": if plan.text.is_empty() { Value::Null } else { Value::from(plan.text.clone()) },
        "refusal": null,
    });
    if !plan.calls.is_empty() {
        message["tool_calls"] = plan
            .calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                       "function": {"name": c.name, "arguments": c.arguments}})
            })
            .collect();
    }
    json!({
        "id": env.id,
        "object": "chat.completion",
        "created": env.created,
        "model": env.model,
        "system_fingerprint": "fp_emulator",
        "choices": [{"index": 0, "message": message, "logprobs": null,
                     "finish_reason": plan.finish_reason}],
        "usage": usage.json(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::brain::PlannedCall;
    use super::*;

    #[test]
    fn text_pieces_rejoin_to_the_text() {
        let text = "Got it, you said token-17. What else?";
        let pieces = text_pieces(text);
        assert!(pieces.len() >= 8);
        assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= 5));
        assert_eq!(pieces.concat(), text);
    }

    #[test]
    fn tool_arguments_come_in_several_pieces() {
        let reply = Reply {
            text: "Bye.".into(),
            calls: vec![
                PlannedCall {
                    name: "set_outcome",
                    arguments: json!({"outcome": "callback"}),
                },
                PlannedCall {
                    name: "end_call",
                    arguments: json!({}),
                },
            ],
        };
        let plan = plan(&reply, None, true);
        assert_eq!(plan.finish_reason, "tool_calls");
        for (index, call) in plan.calls.iter().enumerate() {
            let pieces: Vec<&str> = plan
                .deltas
                .iter()
                .filter_map(|d| match d {
                    Delta::ToolArguments { index: i, piece } if *i == index => Some(piece.as_str()),
                    _ => None,
                })
                .collect();
            assert!(pieces.len() >= 2, "{pieces:?}");
            assert_eq!(pieces.concat(), call.arguments);
        }
        let serial = super::plan(&reply, None, false);
        assert_eq!(serial.calls.len(), 1);
    }

    #[test]
    fn a_token_limit_cuts_the_text_and_drops_the_tools() {
        let reply = Reply {
            text: "one two six ten".into(),
            calls: vec![PlannedCall {
                name: "end_call",
                arguments: json!({}),
            }],
        };
        let plan = plan(&reply, Some(3), true);
        assert_eq!(plan.finish_reason, "length");
        assert_eq!(plan.text, "one two six");
        assert!(plan.calls.is_empty());
        assert_eq!(plan.completion_tokens, 3);
    }
}
