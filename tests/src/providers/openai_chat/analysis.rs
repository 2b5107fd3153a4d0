//! Post-call analysis requests (the control plane's `integrations::analysis`): a system
//! message that starts "You are a post-call analyst" and names the keys to return. The
//! answer is one JSON object worked out from the transcript in the request, so a test can
//! tell it came from this call: the summary quotes the callee's last line; structured
//! data follows the schema in the prompt (a boolean property is true when the transcript
//! says its name, a number is the first number said, a string the first enum value or
//! the callee's last word); success is whether the callee said "yes".
//!
//! An answer can be made invalid on purpose (`ProviderEmulator::answer_analyses_invalidly`):
//! every structured value then has the wrong type, as a model that ignored the schema.

use serde_json::{json, Map, Value};

/// How analysis requests are recognised.
const MARKER: &str = "You are a post-call analyst";

/// The answer to an analysis request, or `None` when `messages` is not one.
pub(crate) fn answer(messages: &[Value], invalid: impl FnOnce() -> bool) -> Option<String> {
    let system = messages.first()?["content"].as_str()?;
    if !system.starts_with(MARKER) {
        return None;
    }
    let invalid = invalid();
    let transcript = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str())
        .find(|c| c.contains("transcript"))
        .unwrap_or("");
    let callee_lines: Vec<&str> = transcript
        .lines()
        .filter_map(|l| l.strip_prefix("Callee: "))
        .collect();
    let last = callee_lines.last().copied().unwrap_or("");
    let lower = transcript.to_ascii_lowercase();
    let mut out = Map::new();
    if system.contains("\"summary\"") {
        out.insert(
            "summary".into(),
            json!(format!("The callee's last words were: {last}")),
        );
    }
    if let Some(schema) = schema_in(system) {
        out.insert(
            "structuredData".into(),
            fill(&schema, "", &lower, last, invalid),
        );
    }
    if system.contains("\"successEvaluation\"") {
        let yes = lower
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| w == "yes");
        out.insert(
            "successEvaluation".into(),
            json!({"success": yes, "reason": if yes { "the callee said yes" } else { "no yes was heard" }}),
        );
    }
    Some(Value::Object(out).to_string())
}

/// The JSON Schema after "satisfies this JSON Schema: " (up to the end of that line).
fn schema_in(system: &str) -> Option<Value> {
    let (_, rest) = system.split_once("satisfies this JSON Schema: ")?;
    let line = rest.lines().next()?;
    serde_json::Deserializer::from_str(line)
        .into_iter::<Value>()
        .next()?
        .ok()
}

fn fill(schema: &Value, name: &str, transcript: &str, last: &str, invalid: bool) -> Value {
    let kind = schema["type"].as_str().unwrap_or("object");
    if invalid && kind != "object" {
        // Every leaf the wrong type.
        return if kind == "string" {
            json!(7)
        } else {
            json!("wrong")
        };
    }
    match kind {
        "object" => {
            let mut out = Map::new();
            if let Some(props) = schema["properties"].as_object() {
                for (key, sub) in props {
                    out.insert(key.clone(), fill(sub, key, transcript, last, invalid));
                }
            }
            Value::Object(out)
        }
        "boolean" => json!(!name.is_empty() && transcript.contains(&name.to_ascii_lowercase())),
        "integer" | "number" => json!(transcript
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| !w.is_empty())
            .and_then(|w| w.parse::<i64>().ok())
            .unwrap_or(0)),
        "array" => json!([]),
        _ => match schema["enum"].as_array().and_then(|e| e.first()) {
            Some(first) => first.clone(),
            None => json!(last
                .split_whitespace()
                .last()
                .unwrap_or("")
                .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-')),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Vec<Value> {
        vec![
            json!({"role": "system", "content": "You are a post-call analyst. Read ... with these keys:\n- \"summary\": two\n- \"structuredData\": an object that satisfies this JSON Schema: {\"type\":\"object\",\"properties\":{\"interested\":{\"type\":\"boolean\"},\"seats\":{\"type\":\"integer\"},\"code\":{\"type\":\"string\"}}}\n- \"successEvaluation\": {...}"}),
            json!({"role": "user", "content": "The call's transcript:\nAgent: Hello\nCallee: yes I am interested in 12 seats code-481"}),
        ]
    }

    #[test]
    fn the_answer_comes_from_the_transcript_and_the_schema() {
        let answer: Value = serde_json::from_str(&answer(&request(), || false).unwrap()).unwrap();
        assert_eq!(
            answer["structuredData"],
            json!({"interested": true, "seats": 12, "code": "code-481"})
        );
        assert_eq!(answer["successEvaluation"]["success"], true);
        assert!(answer["summary"].as_str().unwrap().contains("12 seats"));
    }

    #[test]
    fn an_invalid_answer_has_every_value_of_the_wrong_type() {
        let answer: Value = serde_json::from_str(&answer(&request(), || true).unwrap()).unwrap();
        assert_eq!(
            answer["structuredData"],
            json!({"interested": "wrong", "seats": "wrong", "code": 7})
        );
    }

    #[test]
    fn other_requests_are_not_analyses() {
        assert!(answer(&[json!({"role": "user", "content": "hi"})], || false).is_none());
    }
}
