//! Telling an answering machine's greeting from a person, by what it says: a person
//! answers "hello?", a machine announces itself. This runs alongside Twilio's AMD (which
//! the control plane handles) and is the only detection on SIP, where there is no AMD.

/// Phrases answering machines and carrier voicemail say, lower case.
const CUES: &[&str] = &[
    "leave a message",
    "leave your message",
    "leave me a message",
    "after the tone",
    "after the beep",
    "at the tone",
    "not available",
    "unavailable",
    "can't take your call",
    "cannot take your call",
    "can't come to the phone",
    "voicemail",
    "voice mail",
    "mailbox",
    "record your message",
];

/// Whether a transcript sounds like a voicemail greeting.
pub fn is_greeting(transcript: &str) -> bool {
    let text = transcript.to_lowercase();
    CUES.iter().any(|cue| text.contains(cue))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_are_told_from_people() {
        assert!(is_greeting(
            "Hi, you have reached Sam. Please leave a message after the tone."
        ));
        assert!(is_greeting("The person you are calling is not available"));
        assert!(is_greeting("Welcome to the VOICEMAIL of 415 555 0100"));
        assert!(!is_greeting("Hello?"));
        assert!(!is_greeting("Yes, this is Sam speaking, who is this?"));
    }
}
