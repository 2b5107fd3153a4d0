//! `<Record>`: the caller speaks (the script's lines), then Twilio posts `action` with the
//! recording (its answer is the next TwiML), and later the recording status and, with
//! `transcribe="true"`, the transcription callbacks, all signed, in Twilio's parameters.
//!
//! The emulator stands in for Twilio's transcription service: a recording's text is what
//! the scripted caller said into it.

use super::{CallCtx, Interrupt, Interrupts};
use crate::twilio::callbacks::{self, Request};
use crate::twilio::report::CallbackKind;
use crate::twilio::store::Source;
use crate::twilio::twiml::RecordVerb;
use std::sync::Arc;
use tokio::time::{Duration, Instant};

/// Records; returns the action's TwiML to obey next, if there is an action.
pub(super) async fn run(
    ctx: &CallCtx,
    verb: &RecordVerb,
    interrupts: &mut Interrupts,
) -> Result<Option<Source>, Interrupt> {
    let words = ctx.recorded_words.join(" ");
    ctx.event(format!("record ({} chars said)", words.len()));
    let ms = (ctx.shared.config.timing.say_ms_per_char * words.len() as u64)
        .clamp(200, verb.max_length_s.max(1) * 1000);
    interrupts
        .sleep_until(Instant::now() + Duration::from_millis(ms))
        .await?;
    let account = ctx.shared.config.account_sid.clone();
    let recording_sid = crate::twilio::new_sid("RE");
    let recording_url =
        format!("https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{recording_sid}");
    let seconds = ms.div_ceil(1000).to_string();
    ctx.with_report(|r| r.twiml_audio.push(format!("record:{words}")));
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    // Later, as at Twilio: the recording's status, then its transcription.
    let mut later = Vec::new();
    if let Some(url) = &verb.recording_status_callback {
        later.push(Request {
            kind: CallbackKind::Recording,
            url: url.clone(),
            method: "POST".into(),
            params: pairs(&[
                ("AccountSid", &account),
                ("CallSid", &ctx.sid),
                ("RecordingSid", &recording_sid),
                ("RecordingUrl", &recording_url),
                ("RecordingStatus", "completed"),
                ("RecordingDuration", &seconds),
                ("RecordingChannels", "1"),
                ("RecordingSource", "RecordVerb"),
            ]),
        });
    }
    if let (true, Some(url)) = (verb.transcribe, &verb.transcribe_callback) {
        let transcription_sid = crate::twilio::new_sid("TR");
        let transcription_url = format!(
            "https://api.twilio.com/2010-04-01/Accounts/{account}/Transcriptions/{transcription_sid}"
        );
        let status = if words.is_empty() {
            "failed"
        } else {
            "completed"
        };
        later.push(Request {
            kind: CallbackKind::Recording,
            url: url.clone(),
            method: "POST".into(),
            params: pairs(&[
                ("AccountSid", &account),
                ("CallSid", &ctx.sid),
                ("RecordingSid", &recording_sid),
                ("RecordingUrl", &recording_url),
                ("TranscriptionSid", &transcription_sid),
                ("TranscriptionText", &words),
                ("TranscriptionStatus", status),
                ("TranscriptionUrl", &transcription_url),
                ("TranscriptionType", "fast"),
            ]),
        });
    }
    let shared = Arc::clone(&ctx.shared);
    let sid = ctx.sid.clone();
    tokio::spawn(async move {
        for request in later {
            if let Err(why) = callbacks::send(&shared, &sid, request).await {
                shared.event(&sid, format!("recording callback failed: {why}"));
            }
        }
    });
    let Some(action) = &verb.action else {
        return Ok(None);
    };
    let mut params = ctx.call_params("in-progress");
    params.extend(pairs(&[
        ("RecordingSid", &recording_sid),
        ("RecordingUrl", &recording_url),
        ("RecordingDuration", &seconds),
        ("Digits", "hangup"),
    ]));
    let request = Request {
        kind: CallbackKind::Recording,
        url: action.clone(),
        method: "POST".into(),
        params,
    };
    match callbacks::send(&ctx.shared, &ctx.sid, request).await {
        Ok(document) => Ok(Some(Source::Inline(document))),
        Err(why) => {
            ctx.event(format!("application error: record action failed: {why}"));
            Ok(Some(Source::Inline(
                "<Response><Hangup/></Response>".into(),
            )))
        }
    }
}
