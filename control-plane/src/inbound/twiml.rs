//! The TwiML an inbound call gets when the assistant cannot take it.

use crate::dialer::twilio::twiml::{escape, say_and_hang_up};

/// Longest voicemail, seconds (Twilio transcribes at most two minutes).
const VOICEMAIL_MAX_SEC: u32 = 120;

/// Says `message` and hangs up.
pub fn message(message: &str) -> String {
    say_and_hang_up(message)
}

/// Says `message`, then records a voicemail after the beep: `<Record>`'s action, recording
/// status and transcription callbacks all carry the call's id, as every callback does.
pub fn voicemail(message: &str, public_url: &str, call_id: uuid::Uuid) -> String {
    let base = public_url.trim_end_matches('/');
    let hook = |kind: &str| escape(&format!("{base}/webhooks/twilio/{kind}?callId={call_id}"));
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>{}</Say>\
         <Record action=\"{}\" method=\"POST\" maxLength=\"{VOICEMAIL_MAX_SEC}\" playBeep=\"true\" \
         recordingStatusCallback=\"{}\" recordingStatusCallbackMethod=\"POST\" \
         transcribe=\"true\" transcribeCallback=\"{}\"/></Response>",
        escape(message),
        hook("voicemail"),
        hook("recording"),
        hook("transcription"),
    )
}

/// Ends the call (after a voicemail was recorded).
pub fn hang_up() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voicemail_records_with_every_callback_naming_the_call() {
        let id = uuid::Uuid::nil();
        let xml = voicemail("Leave a message & we call back", "https://cp.example/", id);
        assert!(xml.contains("<Say>Leave a message &amp; we call back</Say>"));
        assert!(xml.contains(&format!(
            "action=\"https://cp.example/webhooks/twilio/voicemail?callId={id}\""
        )));
        assert!(xml.contains("transcribe=\"true\""));
        assert!(xml.contains(&format!("/webhooks/twilio/transcription?callId={id}")));
        assert!(xml.ends_with("/></Response>"));
    }
}
