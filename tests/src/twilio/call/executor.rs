//! Obeys TwiML documents verb by verb until one ends the call, the document runs out (which
//! hangs up, as at Twilio), or an interrupt arrives; redirects load a new document.

use super::{CallCtx, Interrupt, Interrupts};
use crate::twilio::callbacks::{self, Request};
use crate::twilio::phone::Phone;
use crate::twilio::report::{CallbackKind, Transfer};
use crate::twilio::store::Source;
use crate::twilio::stream::{self, StreamEnd};
use crate::twilio::twiml::{self, Verb};
use tokio::time::{Duration, Instant};

/// Obeys `source` and whatever it leads to; returns who ended the call.
pub(super) async fn obey(
    ctx: &CallCtx,
    mut source: Source,
    phone: &Phone,
    interrupts: &mut Interrupts,
) -> &'static str {
    'document: loop {
        let (document, base) = match load(ctx, &source).await {
            Ok(loaded) => loaded,
            Err(why) => {
                // Twilio plays "an application error has occurred" and hangs up.
                ctx.event(format!("application error: {why}"));
                return "twiml";
            }
        };
        ctx.with_report(|r| r.twiml.push(document.clone()));
        let verbs = match twiml::parse(document.trim()) {
            Ok(verbs) => verbs,
            Err(e) => {
                ctx.event(format!("application error: {e}"));
                return "twiml";
            }
        };
        for verb in verbs {
            let outcome = match verb {
                Verb::Say(text) => {
                    ctx.event(format!("say {text:?}"));
                    ctx.with_report(|r| r.twiml_audio.push(format!("say:{text}")));
                    let ms = ctx.shared.config.timing.say_ms_per_char * text.len() as u64;
                    pause(interrupts, ms).await
                }
                Verb::Play(url) => {
                    ctx.event(format!("play {url}"));
                    ctx.with_report(|r| r.twiml_audio.push(format!("play:{url}")));
                    pause(interrupts, ctx.shared.config.timing.play_ms).await
                }
                Verb::Pause(seconds) => pause(interrupts, seconds * 1000).await,
                Verb::Hangup | Verb::Reject => return "twiml",
                Verb::Dial(number) => {
                    ctx.event(format!("dial {number}"));
                    ctx.with_report(|r| {
                        r.transfers.push(Transfer {
                            to: number.clone(),
                            at: ctx.shared.now(),
                        })
                    });
                    pause(interrupts, ctx.shared.config.timing.dial_ms).await
                }
                Verb::Stream(mut verb) => {
                    verb.url = resolve(base.as_deref(), &verb.url);
                    match stream::run(ctx, &verb, phone, interrupts).await {
                        StreamEnd::Finished => Ok(()),
                        StreamEnd::Interrupted(interrupt) => Err(interrupt),
                    }
                }
                Verb::Record(mut verb) => {
                    for url in [
                        &mut verb.action,
                        &mut verb.recording_status_callback,
                        &mut verb.transcribe_callback,
                    ]
                    .into_iter()
                    .flatten()
                    {
                        *url = resolve(base.as_deref(), url);
                    }
                    match super::record::run(ctx, &verb, interrupts).await {
                        Ok(Some(next)) => {
                            source = next;
                            continue 'document;
                        }
                        Ok(None) => Ok(()),
                        Err(interrupt) => Err(interrupt),
                    }
                }
                Verb::Redirect(url) => {
                    source = Source::Url {
                        url: resolve(base.as_deref(), &url),
                        method: "POST".into(),
                    };
                    continue 'document;
                }
                Verb::Other(name) => {
                    ctx.event(format!("<{name}> not emulated; skipped"));
                    Ok(())
                }
            };
            match outcome {
                Ok(()) => {}
                Err(Interrupt::Redirect(new)) => {
                    ctx.event("redirected over REST");
                    source = new;
                    continue 'document;
                }
                Err(Interrupt::Hangup) => return "api",
                Err(Interrupt::CalleeHungUp) => return "callee",
                Err(Interrupt::TimeLimit) => return "time_limit",
            }
        }
        return "twiml";
    }
}

async fn pause(interrupts: &mut Interrupts, ms: u64) -> Result<(), Interrupt> {
    interrupts
        .sleep_until(Instant::now() + Duration::from_millis(ms))
        .await
}

/// The document and the URL it came from (for relative URLs in it).
async fn load(ctx: &CallCtx, source: &Source) -> Result<(String, Option<String>), String> {
    match source {
        Source::Inline(document) => Ok((document.clone(), None)),
        Source::Url { url, method } => {
            // A call to a number is still `ringing` when Twilio asks what to do with it.
            let first = ctx.with_report(|r| r.twiml.is_empty()).unwrap_or(false);
            let status = if ctx.params.direction == "inbound" && first {
                "ringing"
            } else {
                "in-progress"
            };
            let request = Request {
                kind: CallbackKind::Twiml,
                url: url.clone(),
                method: method.clone(),
                params: ctx.call_params(status),
            };
            let body = callbacks::send(&ctx.shared, &ctx.sid, request).await?;
            Ok((body, Some(url.clone())))
        }
    }
}

/// Resolves a relative URL against the document's; absolute ones are kept exactly as written
/// (they are what the product signs and checks).
fn resolve(base: Option<&str>, url: &str) -> String {
    if reqwest::Url::parse(url).is_ok() {
        return url.to_string();
    }
    base.and_then(|b| reqwest::Url::parse(b).ok())
        .and_then(|b| b.join(url).ok())
        .map_or_else(|| url.to_string(), |u| u.to_string())
}
