//! A call to one of the account's numbers: Twilio asks the number's voice URL what to do
//! (a signed POST with `Direction=inbound`, `CallStatus=ringing`) and obeys the TwiML it
//! gets, `<Connect><Stream>` included; the caller is a scripted phone like any callee.
//! The number's status callback, when set, gets the `completed` event, as Twilio sends it.

use super::{answered, CallCtx, CallParams, Interrupts};
use crate::twilio::report::CallReport;
use crate::twilio::script::CalleeScript;
use crate::twilio::store::{CallEntry, Shared, Source};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The webhooks a number is configured with (IncomingPhoneNumber `VoiceUrl`,
/// `StatusCallback`, `SmsUrl`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberHooks {
    pub voice_url: Option<String>,
    pub status_callback: Option<String>,
    pub sms_url: Option<String>,
}

/// Places a call from `from` to our number `to`, whose webhooks are `hooks`; returns its
/// SID. The call runs in its own task.
pub(crate) fn place(
    shared: Arc<Shared>,
    from: &str,
    to: &str,
    hooks: &NumberHooks,
    script: CalleeScript,
) -> Result<String, String> {
    let voice_url = hooks
        .voice_url
        .clone()
        .ok_or_else(|| format!("{to} has no voice URL"))?;
    let sid = crate::twilio::new_sid("CA");
    let params = CallParams {
        to: to.to_string(),
        from: from.to_string(),
        source: Source::Url {
            url: voice_url,
            method: "POST".into(),
        },
        status_callback: hooks.status_callback.clone(),
        status_method: "POST".into(),
        // A number's status callback hears only that the call ended.
        status_events: vec!["completed".into()],
        amd: None,
        timeout_s: 60,
        time_limit_s: 4 * 3600,
        direction: "inbound".into(),
    };
    let report = CallReport {
        sid: sid.clone(),
        account_sid: shared.config.account_sid.clone(),
        to: to.to_string(),
        from: from.to_string(),
        status: "ringing".into(),
        answered_by: None,
        created_at: shared.now(),
        dialed_at: Some(shared.now()),
        answered_at: None,
        ended_at: None,
        ended_by: None,
        request: Vec::new(),
        twiml: Vec::new(),
        callbacks: Vec::new(),
        streams: Vec::new(),
        heard: Vec::new(),
        twiml_audio: Vec::new(),
        said: Vec::new(),
        barge_ins: Vec::new(),
        underruns_ms: Vec::new(),
        transfers: Vec::new(),
        timeline: Vec::new(),
    };
    let (control, control_rx) = mpsc::channel(8);
    let (ended, _) = watch::channel(false);
    {
        let mut state = shared.lock();
        state.order.push(sid.clone());
        state.calls.insert(
            sid.clone(),
            CallEntry {
                report,
                control: Some(control),
                ended,
                phone: None,
            },
        );
    }
    shared.event(&sid, format!("inbound call from {from}"));
    let ctx = CallCtx::new(shared, sid.clone(), params, &script);
    let source = ctx.params.source.clone();
    tokio::spawn(answered(ctx, script, source, Interrupts::new(control_rx)));
    Ok(sid)
}
