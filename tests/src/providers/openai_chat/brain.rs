//! The emulated model's mind: a reply that depends on what the callee said, by fixed rules,
//! so a test knows what the agent will answer and can check it answered the right turn.
//!
//! Matching is on lower-cased words. In order: do-not-call, not interested, call back,
//! transfer, text me (send_sms), goodbye, interested; otherwise the reply echoes a token
//! from the callee's last words (the last `word-123`, else the last word). A tool result
//! gets a short acknowledgement and no tool call, so a tool round trip ends. Tools are
//! only called when offered. Replies are plain ASCII with clauses far below 255 bytes.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

/// What the reply answers: the conversation's last message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// The callee's words.
    User(String),
    /// A tool's result came back.
    ToolResult,
    /// No user message yet: the agent speaks first.
    Opening,
}

/// A tool call the model decided on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlannedCall {
    pub name: &'static str,
    pub arguments: Value,
}

/// The model's answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub text: String,
    pub calls: Vec<PlannedCall>,
}

/// Lower-case words, split on anything but letters, digits, `'` and `-`.
fn words(text: &str) -> Vec<String> {
    text.to_ascii_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '\'' || c == '-'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '-').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

fn has_phrase(words: &[String], phrase: &str) -> bool {
    let wanted: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(wanted.len())
        .any(|w| w.iter().zip(&wanted).all(|(a, b)| a == b))
}

fn has_any(words: &[String], phrases: &[&str]) -> bool {
    phrases.iter().any(|p| has_phrase(words, p))
}

/// `letters-digits`, the shape of the tokens tests put in what callees say.
fn is_token(word: &str) -> bool {
    match word.split_once('-') {
        Some((letters, digits)) => {
            !letters.is_empty()
                && letters.chars().all(|c| c.is_ascii_alphabetic())
                && !digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// The word the echo reply repeats: kept ASCII and short whatever the input was.
fn echo_word(text: &str) -> Option<String> {
    let words = words(text);
    let word = words
        .iter()
        .rev()
        .find(|w| is_token(w))
        .or_else(|| words.last())?;
    let clean: String = word
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '\'')
        .take(40)
        .collect();
    (!clean.is_empty()).then_some(clean)
}

/// Decides the reply to `input` given the tools `offered`; `now` dates callbacks.
pub(crate) fn reply(input: &Input, offered: &[String], now: DateTime<Utc>) -> Reply {
    let said = match input {
        Input::ToolResult => {
            return Reply {
                text: "Okay, that is done. Is there anything else I can help you with?".into(),
                calls: Vec::new(),
            }
        }
        Input::Opening => {
            return Reply {
                text: "Hello, this is the assistant calling. Do you have a minute?".into(),
                calls: Vec::new(),
            }
        }
        Input::User(text) => text,
    };
    let w = words(said);
    let notes: String = said
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(120)
        .collect();
    let (text, calls): (&str, Vec<(&'static str, Value)>) = if has_any(
        &w,
        &["do not call", "don't call", "dont call", "stop calling"],
    ) {
        (
            "Understood, we will not call you again. Goodbye.",
            vec![
                (
                    "add_to_dnc",
                    json!({"reason": "callee asked not to be called"}),
                ),
                (
                    "set_outcome",
                    json!({"outcome": "do_not_call", "notes": notes}),
                ),
                ("end_call", json!({})),
            ],
        )
    } else if has_phrase(&w, "not interested") {
        (
            "I understand, thanks for letting me know. Have a good day.",
            vec![
                (
                    "set_outcome",
                    json!({"outcome": "not_interested", "notes": notes}),
                ),
                ("end_call", json!({})),
            ],
        )
    } else if has_any(
        &w,
        &["call me back", "call me later", "callback", "call back"],
    ) {
        let at = (now + Duration::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
        (
            "Sure, I will call you back tomorrow. Talk to you then.",
            vec![
                ("schedule_callback", json!({"at": at})),
                (
                    "set_outcome",
                    json!({"outcome": "callback", "notes": notes}),
                ),
            ],
        )
    } else if has_any(&w, &["transfer", "human", "real person"]) {
        (
            "Of course, let me transfer you to a colleague now.",
            vec![(
                "transfer_call",
                json!({"reason": "callee asked for a person"}),
            )],
        )
    } else if has_any(&w, &["text me", "send me a text"]) {
        (
            "Sure, I am sending you a text with the details now.",
            vec![("send_sms", json!({}))],
        )
    } else if has_any(&w, &["goodbye", "bye", "bye-bye"]) {
        (
            "Thanks for your time. Goodbye.",
            vec![("end_call", json!({}))],
        )
    } else if has_phrase(&w, "interested") {
        (
            "That is great to hear, I have noted your interest. What else can I tell you?",
            vec![(
                "set_outcome",
                json!({"outcome": "interested", "notes": notes}),
            )],
        )
    } else {
        let text = match echo_word(said) {
            Some(token) => format!("Got it, you said {token}. What else can I help you with?"),
            None => "Sorry, I did not catch that. Could you say it again?".into(),
        };
        return Reply {
            text,
            calls: Vec::new(),
        };
    };
    Reply {
        text: text.into(),
        calls: calls
            .into_iter()
            .filter(|(name, _)| offered.iter().any(|o| o == name))
            .map(|(name, arguments)| PlannedCall { name, arguments })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_tools() -> Vec<String> {
        [
            "end_call",
            "set_outcome",
            "add_to_dnc",
            "schedule_callback",
            "transfer_call",
        ]
        .map(String::from)
        .to_vec()
    }

    fn names(reply: &Reply) -> Vec<&str> {
        reply.calls.iter().map(|c| c.name).collect()
    }

    fn user(text: &str) -> Input {
        Input::User(text.into())
    }

    #[test]
    fn the_echo_repeats_the_last_token_else_the_last_word() {
        let now = Utc::now();
        let r = reply(
            &user("hello token-17 and token-18 please"),
            &all_tools(),
            now,
        );
        assert_eq!(
            r.text,
            "Got it, you said token-18. What else can I help you with?"
        );
        assert!(r.calls.is_empty());
        let r = reply(&user("The weather is nice, Today!"), &[], now);
        assert!(r.text.contains("you said today."), "{}", r.text);
    }

    #[test]
    fn each_rule_calls_its_tools_when_offered() {
        let now = Utc::now();
        let tools = all_tools();
        let cases = [
            ("ok bye", vec!["end_call"]),
            ("I am NOT interested", vec!["set_outcome", "end_call"]),
            (
                "please stop calling me",
                vec!["add_to_dnc", "set_outcome", "end_call"],
            ),
            (
                "Don't call again",
                vec!["add_to_dnc", "set_outcome", "end_call"],
            ),
            (
                "can you call me back",
                vec!["schedule_callback", "set_outcome"],
            ),
            ("I want a real person", vec!["transfer_call"]),
            ("yes I am interested", vec!["set_outcome"]),
        ];
        for (said, expected) in cases {
            assert_eq!(names(&reply(&user(said), &tools, now)), expected, "{said}");
        }
        let r = reply(&user("not interested"), &tools, now);
        assert_eq!(r.calls[0].arguments["outcome"], "not_interested");
    }

    #[test]
    fn tools_that_were_not_offered_are_never_called() {
        let r = reply(&user("goodbye"), &["set_outcome".into()], Utc::now());
        assert_eq!(r.text, "Thanks for your time. Goodbye.");
        assert!(r.calls.is_empty());
    }

    #[test]
    fn a_callback_is_dated_one_day_later() {
        let now = Utc::now();
        let r = reply(&user("call me later"), &all_tools(), now);
        let at = r.calls[0].arguments["at"].as_str().expect("string");
        let at = DateTime::parse_from_rfc3339(at).expect("rfc3339");
        let delta = at.with_timezone(&Utc) - now;
        assert!((delta - Duration::days(1)).num_seconds().abs() <= 1);
    }

    #[test]
    fn a_tool_result_gets_text_only() {
        let r = reply(&Input::ToolResult, &all_tools(), Utc::now());
        assert!(r.calls.is_empty() && !r.text.is_empty());
    }

    #[test]
    fn words_like_maybe_do_not_trigger_bye() {
        let r = reply(&user("maybe token-3"), &all_tools(), Utc::now());
        assert!(r.text.contains("token-3"));
    }
}
