//! The disclosure check on an assistant's first message: the callee must hear, in the
//! first words, who is calling and that the call is automated (FCC 24-17 treats AI voices
//! as "artificial" under the TCPA, and several state laws require the caller's identity at
//! the start of a call).
//!
//! The check is deliberately simple and English-only, so that an operator can predict it:
//! 1. **Who is calling**: a `{{placeholder}}` naming the agent or company (`agent_name`,
//!    `assistant_name`, `company`, `company_name`, `business_name`, `brand`), or an
//!    introduction phrase (`this is`, `my name is`, `calling from`, `calling on behalf
//!    of`, `on behalf of`, `I'm`, `I am`).
//! 2. **That it is automated**: one of `AI`, `A.I.`, `artificial intelligence`,
//!    `automated`, `virtual assistant`, `virtual agent`, `digital assistant`, `robot`,
//!    `bot` as whole words.
//!
//! An organization that discloses some other way (another language, a recorded preamble)
//! turns the check off with its `allowUndisclosedAssistants` setting.

/// Placeholders that name who is calling.
const IDENTITY_PLACEHOLDERS: &[&str] = &[
    "agent_name",
    "assistant_name",
    "company",
    "company_name",
    "business_name",
    "brand",
];

/// Phrases that introduce who is calling (lower case, matched on word boundaries).
const IDENTITY_PHRASES: &[&str] = &[
    "this is",
    "my name is",
    "calling from",
    "calling on behalf of",
    "on behalf of",
    "i'm",
    "i am",
];

/// Words that say the caller is not a person (lower case, whole words).
const AUTOMATED_PHRASES: &[&str] = &[
    "ai",
    "a.i.",
    "a.i",
    "artificial intelligence",
    "automated",
    "virtual assistant",
    "virtual agent",
    "digital assistant",
    "robot",
    "bot",
];

/// Why a first message fails the check; `None` when it passes.
pub fn first_message_problem(first_message: Option<&str>) -> Option<String> {
    let Some(text) = first_message.filter(|t| !t.trim().is_empty()) else {
        return Some(
            "is required: the callee's first words must say who is calling and that the call \
             is automated (or the organization must allow undisclosed assistants)"
                .into(),
        );
    };
    let words = normalize(text);
    let names_caller = IDENTITY_PHRASES.iter().any(|p| has_phrase(&words, p))
        || placeholders(text)
            .iter()
            .any(|name| IDENTITY_PLACEHOLDERS.contains(&name.as_str()));
    let says_automated = AUTOMATED_PHRASES.iter().any(|p| has_phrase(&words, p));
    match (names_caller, says_automated) {
        (true, true) => None,
        (false, true) => {
            Some("must say who is calling (for example \"this is Ava from {{company}}\")".into())
        }
        (true, false) => Some(
            "must say that the call is automated (for example \"an AI assistant\" or \
             \"an automated call\")"
                .into(),
        ),
        (false, false) => Some(
            "must say who is calling and that the call is automated (for example \"Hi, this \
             is Ava, an AI assistant calling from {{company}}\")"
                .into(),
        ),
    }
}

/// Lower case, every run of characters other than letters, digits, `'` and `.` turned
/// into one space, padded with spaces so phrases match on word boundaries.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = if c == '\u{2019}' { '\'' } else { c };
        if c.is_alphanumeric() || c == '\'' || c == '.' {
            out.push(c);
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.push(' ');
    out
}

/// The phrase as whole words; a trailing sentence dot does not hide a word ("an AI.").
fn has_phrase(words: &str, phrase: &str) -> bool {
    let spaced = format!(" {phrase} ");
    let dotted = format!(" {phrase}. ");
    words.contains(&spaced) || words.contains(&dotted)
}

fn placeholders(text: &str) -> Vec<String> {
    shared::template::placeholders(text)
        .map(|names| names.into_iter().map(|n| n.to_string()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_naming_the_caller_and_saying_ai_passes() {
        for good in [
            "Hi {{name}}, this is Ava, an AI assistant calling from Acme.",
            "Hello! I'm the automated assistant of {{company}}.",
            "Good morning, {{agent_name}} here, a virtual assistant for your dentist.",
            "Hi, my name is Sam and I am an A.I. calling about your order.",
            "This is Acme’s AI.",
        ] {
            assert_eq!(first_message_problem(Some(good)), None, "{good}");
        }
    }

    #[test]
    fn a_message_missing_either_part_is_refused_with_the_part_it_lacks() {
        let no_ai = first_message_problem(Some("Hi {{name}}, this is Ava from Acme.")).unwrap();
        assert!(no_ai.contains("automated"), "{no_ai}");
        let no_name = first_message_problem(Some("Hello, an automated call.")).unwrap();
        assert!(no_name.contains("who is calling"), "{no_name}");
        let neither = first_message_problem(Some("Hi {{name}}")).unwrap();
        assert!(neither.contains("who is calling and"), "{neither}");
        assert!(first_message_problem(None).unwrap().contains("required"));
        assert!(first_message_problem(Some("  ")).is_some());
    }

    #[test]
    fn words_match_whole_not_inside_others() {
        // "said" holds "ai", "this island" holds "this is", "bottle" holds "bot".
        assert!(first_message_problem(Some("Hi, he said the bottle on this island")).is_some());
    }
}
