//! One call's life, from the CPS queue to the last callback: dialling, ringing, the
//! callee's pickup, answering machine detection, then the TwiML.

mod executor;
pub(crate) mod inbound;
mod interrupts;
mod params;
mod record;

pub(crate) use interrupts::{Interrupt, Interrupts};
pub(crate) use params::{is_e164, CallParams};

use super::callbacks::{Queue, Request};
use super::phone::{voicemail_beep_end_ms, Phone};
use super::report::{CallReport, CallbackKind, StreamReport};
use super::script::{CalleeScript, Pickup};
use super::store::{Shared, Source};
use chrono::Utc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::time::{Duration, Instant};

/// What every part of a call's handling needs.
pub(crate) struct CallCtx {
    pub shared: Arc<Shared>,
    pub sid: String,
    pub params: CallParams,
    /// Status callbacks sent so far: the next SequenceNumber.
    status_seq: AtomicU32,
    callbacks: Mutex<Option<Queue>>,
    /// What the person says into a `<Record>` (the script's lines, in order).
    recorded_words: Vec<String>,
}

impl CallCtx {
    fn new(
        shared: Arc<Shared>,
        sid: String,
        params: CallParams,
        script: &CalleeScript,
    ) -> Arc<Self> {
        let queue = Queue::start(shared.clone(), sid.clone(), script.callbacks);
        Arc::new(CallCtx {
            shared,
            sid,
            params,
            status_seq: AtomicU32::new(0),
            callbacks: Mutex::new(Some(queue)),
            recorded_words: script
                .actions
                .iter()
                .filter_map(|a| match a {
                    crate::twilio::script::Action::Say {
                        text,
                        garbled: false,
                        ..
                    } => Some(text.clone()),
                    _ => None,
                })
                .collect(),
        })
    }

    pub(crate) fn event(&self, what: impl Into<String>) {
        self.shared.event(&self.sid, what);
    }

    pub(crate) fn with_report<R>(&self, f: impl FnOnce(&mut CallReport) -> R) -> Option<R> {
        self.shared.with_call(&self.sid, |e| f(&mut e.report))
    }

    pub(crate) fn with_stream(&self, index: usize, f: impl FnOnce(&mut StreamReport)) {
        self.with_report(|r| r.streams.get_mut(index).map(f));
    }

    /// The parameters every request about this call carries.
    pub(crate) fn call_params(&self, call_status: &str) -> Vec<(String, String)> {
        let p = &self.params;
        let mut params = vec![
            ("AccountSid", self.shared.config.account_sid.clone()),
            ("ApiVersion", "2010-04-01".to_string()),
            ("CallSid", self.sid.clone()),
            ("CallStatus", call_status.to_string()),
            ("Called", p.to.clone()),
            ("Caller", p.from.clone()),
            ("Direction", p.direction.clone()),
            ("From", p.from.clone()),
            ("To", p.to.clone()),
        ];
        // Only the one field: cloning the whole report (its request, callbacks and
        // timeline) for it cost more than the rest of a callback's parameters.
        if let Some(by) = self.with_report(|r| r.answered_by.clone()).flatten() {
            params.push(("AnsweredBy", by));
        }
        params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// Sends the status callback for `event` if the product asked for it.
    fn status(&self, event: &str, call_status: &str, sip: Option<u16>, duration: Option<i64>) {
        self.event(format!("status {call_status}"));
        let Some(url) = self
            .params
            .status_callback
            .clone()
            .filter(|_| self.params.wants(event))
        else {
            return;
        };
        let mut params = self.call_params(call_status);
        let seq = self.status_seq.fetch_add(1, Ordering::SeqCst);
        params.push(("Timestamp".into(), twilio_time(self.shared.now())));
        params.push(("CallbackSource".into(), "call-progress-events".into()));
        params.push(("SequenceNumber".into(), seq.to_string()));
        if let Some(code) = sip {
            params.push(("SipResponseCode".into(), code.to_string()));
        }
        if let Some(seconds) = duration {
            params.push(("CallDuration".into(), seconds.to_string()));
        }
        self.queue(Request {
            kind: CallbackKind::Status,
            url,
            method: self.params.status_method.clone(),
            params,
        });
    }

    fn queue(&self, request: Request) {
        if let Some(queue) = self
            .callbacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            queue.push(request);
        }
    }

    fn set_status(&self, status: &str) {
        self.with_report(|r| r.status = status.to_string());
    }

    /// Ends the call: final status, `completed` callback, then marks it ended once that
    /// callback has been delivered, so a test that waited for the end sees it.
    async fn finish(&self, status: &str, sip: u16, ended_by: &str) {
        let phone = self
            .shared
            .with_call(&self.sid, |e| e.phone.clone())
            .flatten();
        if let Some(phone) = phone {
            phone.hang_up();
        }
        let now = self.shared.now();
        let duration = self
            .with_report(|r| {
                r.status = status.to_string();
                r.ended_at = Some(now);
                r.ended_by = Some(ended_by.to_string());
                r.duration_s()
            })
            .flatten();
        self.status("completed", status, Some(sip), Some(duration.unwrap_or(0)));
        let queue = self
            .callbacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(queue) = queue {
            queue.finish().await;
        }
        self.shared.with_call(&self.sid, |e| {
            e.control = None;
            e.ended.send_replace(true);
        });
    }
}

/// RFC 2822 in UTC, as Twilio writes `Timestamp` and the resource's dates.
pub(crate) fn twilio_time(at: chrono::DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// Runs call `sid` to its end.
pub(crate) async fn run(
    shared: Arc<Shared>,
    sid: String,
    params: CallParams,
    script: CalleeScript,
    slot: Instant,
    mut interrupts: Interrupts,
) {
    let ctx = CallCtx::new(shared, sid, params, &script);
    let mut source = ctx.params.source.clone();
    if wait(&mut interrupts, slot, &mut source).await.is_err() {
        return ctx.finish("canceled", 487, "api").await;
    }
    ctx.with_report(|r| r.dialed_at = Some(ctx.shared.now()));
    ctx.status("initiated", "initiated", None, None);
    let ring = Duration::from_millis(script.ring_ms);
    let timeout = Duration::from_secs(ctx.params.timeout_s);
    let now = Instant::now();
    let (status, sip) = match &script.pickup {
        Pickup::Busy => ("busy", 486),
        Pickup::Failed | Pickup::Unreachable => ("failed", 503),
        Pickup::NoAnswer => ("no-answer", 487),
        Pickup::Answer | Pickup::Voicemail { .. } if ring >= timeout => ("no-answer", 487),
        Pickup::Answer | Pickup::Voicemail { .. } => ("answer", 200),
    };
    let rings = status != "busy" && status != "failed";
    if rings {
        ctx.set_status("ringing");
        ctx.status("ringing", "ringing", None, None);
    }
    let until = now + if status == "no-answer" { timeout } else { ring };
    if wait(&mut interrupts, until, &mut source).await.is_err() {
        return ctx.finish("canceled", 487, "api").await;
    }
    if status != "answer" {
        return ctx.finish(status, sip, "callee").await;
    }
    answered(ctx, script, source, interrupts).await;
}

/// Waits until `until`; a redirect before the answer replaces the TwiML to run.
async fn wait(interrupts: &mut Interrupts, until: Instant, source: &mut Source) -> Result<(), ()> {
    loop {
        match interrupts.sleep_until(until).await {
            Ok(()) => return Ok(()),
            Err(Interrupt::Redirect(new)) => *source = new,
            Err(_) => return Err(()),
        }
    }
}

async fn answered(
    ctx: Arc<CallCtx>,
    script: CalleeScript,
    source: Source,
    mut interrupts: Interrupts,
) {
    let phone = Phone::answer(ctx.shared.clone(), ctx.sid.clone(), &script);
    let answered_at = Instant::now();
    interrupts.answered(
        phone.gone(),
        answered_at + Duration::from_secs(ctx.params.time_limit_s),
    );
    ctx.shared.with_call(&ctx.sid, |e| {
        e.phone = Some(phone.clone());
        e.report.status = "in-progress".into();
        e.report.answered_at = Some(ctx.shared.now());
    });

    if let Some(amd) = ctx.params.amd.clone() {
        let (verdict, after_ms) = detect(&script, amd.detect_message_end, amd.timeout_s);
        let decided_at = answered_at + Duration::from_millis(after_ms);
        if amd.asynchronous {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(decided_at).await;
                let live = ctx.with_report(|r| r.ended_at.is_none()).unwrap_or(false);
                if live {
                    amd_verdict(&ctx, verdict, after_ms, amd.callback, amd.callback_method);
                }
            });
        } else {
            if interrupts.sleep_until(decided_at).await.is_err() {
                return ctx.finish("completed", 200, "callee").await;
            }
            amd_verdict(&ctx, verdict, after_ms, None, String::new());
        }
    }
    ctx.status("answered", "in-progress", Some(200), None);
    let ended_by = executor::obey(&ctx, source, &phone, &mut interrupts).await;
    ctx.finish("completed", 200, ended_by).await;
}

/// What AMD concludes about this callee, and how long it takes.
fn detect(script: &CalleeScript, detect_message_end: bool, timeout_s: u64) -> (&'static str, u64) {
    let timeout_ms = timeout_s * 1000;
    let (verdict, ms) = match &script.pickup {
        Pickup::Voicemail { greeting, .. } if detect_message_end => {
            ("machine_end_beep", voicemail_beep_end_ms(greeting))
        }
        Pickup::Voicemail { .. } => ("machine_start", script.amd_ms),
        _ => ("human", script.amd_ms),
    };
    if ms > timeout_ms {
        ("unknown", timeout_ms)
    } else {
        (verdict, ms)
    }
}

fn amd_verdict(
    ctx: &CallCtx,
    verdict: &str,
    after_ms: u64,
    callback: Option<String>,
    method: String,
) {
    ctx.with_report(|r| r.answered_by = Some(verdict.to_string()));
    ctx.event(format!("amd {verdict} after {after_ms} ms"));
    if let Some(url) = callback {
        let params = [
            ("AccountSid", ctx.shared.config.account_sid.clone()),
            ("CallSid", ctx.sid.clone()),
            ("AnsweredBy", verdict.to_string()),
            ("MachineDetectionDuration", after_ms.to_string()),
        ];
        ctx.queue(Request {
            kind: CallbackKind::Amd,
            url,
            method,
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        });
    }
}
