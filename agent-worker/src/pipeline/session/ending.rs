//! Timers (silence, pause decisions, maximum duration, budget), failures, and how a call
//! ends: the goodbye plays, the media closes, and the final reports go out.

use super::{AfterReply, LlmStream, Session};
use crate::providers::TtsStream;
use crate::transport::Transport;
use shared::events::EventKind;
use std::time::{Duration, Instant};

/// The longest a goodbye may play before the call is closed anyway.
pub(super) const GOODBYE_CAP: Duration = Duration::from_secs(15);
/// How long a transfer may take to take the call away from us.
const TRANSFER_CAP: Duration = Duration::from_secs(20);

impl Session {
    /// Why the call is over, once the goodbye (if any) has played.
    pub(super) fn finished(&self, now: Instant) -> Option<String> {
        let reason = self.ending.clone()?;
        let since = self.ending_since.unwrap_or(now);
        if reason == "transferred" {
            // The control plane moves the call to `<Dial>`, which ends our stream. Closing
            // it ourselves would race the redirect and hang up on the callee.
            return (now.duration_since(since) >= TRANSFER_CAP).then_some(reason);
        }
        (self.speaking.is_none() || now.duration_since(since) >= GOODBYE_CAP).then_some(reason)
    }

    /// Ends the call once the reply in progress has been heard.
    pub(super) fn end_after_reply(&mut self, reason: &str) {
        self.ending.get_or_insert_with(|| reason.to_string());
        self.ending_since.get_or_insert_with(Instant::now);
    }

    /// Ends the call now, dropping whatever the agent was saying.
    pub(super) fn end_now(&mut self, reason: &str) {
        self.finish_reply();
        self.cancel_streams = true;
        self.end_after_reply(reason);
    }

    /// A provider failed for good: apologise (from the phrase cache when synthesis is what
    /// failed) and hang up. The callee is never left in silence.
    pub(super) fn fail(&mut self, reason: &str) {
        if self.ending.is_some() {
            return;
        }
        tracing::warn!(reason, "ending the call after a provider failure");
        let apology = self.config.phrases.apology.clone();
        let cached = self.phrases.get(&self.phrase_key(&apology)).is_some();
        self.pause = None;
        self.end_now(reason);
        if cached || reason != "tts_failed" {
            self.speak_phrase(&apology, AfterReply::End(reason.to_string()));
        }
    }

    /// Says `phrase` over whatever is playing, then ends with `reason`.
    async fn close_with(
        &mut self,
        phrase: &str,
        reason: &str,
        transport: &mut dyn Transport,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        let now = Instant::now();
        if self.agent_audible() {
            self.clear_agent(now, now, transport).await;
        }
        self.interrupt(llm, tts);
        self.end_after_reply(reason);
        self.speak_phrase(phrase, AfterReply::End(reason.to_string()));
    }

    /// Whichever timers are due.
    pub(super) async fn on_timers(
        &mut self,
        transport: &mut dyn Transport,
        llm: &mut Option<LlmStream>,
        tts: &mut Option<TtsStream>,
    ) {
        let now = Instant::now();
        if self
            .pause
            .and_then(|p| p.decide_at)
            .is_some_and(|at| at <= now)
        {
            self.decide_pause(llm, tts);
        }
        if self.ending.is_some() {
            return;
        }
        if now >= self.max_duration_at {
            let phrase = self.config.phrases.max_duration.clone();
            self.close_with(&phrase, "max_duration", transport, llm, tts)
                .await;
            return;
        }
        if now >= self.next_budget_check {
            self.next_budget_check = now + Duration::from_secs(1);
            if let Some(budget) = self.job.limits.budget_cents {
                let (cents, _) = self.rates.cost(&self.usage.snapshot());
                if cents >= f64::from(budget) {
                    let phrase = self.config.phrases.budget.clone();
                    self.close_with(&phrase, "budget", transport, llm, tts)
                        .await;
                    return;
                }
            }
        }
        if self.silence_deadline.is_some_and(|at| at <= now) {
            self.silence_deadline = None;
            if self.speaking.is_some()
                || self.callee_speaking
                || self.callee.has_text()
                || self.voicemail_pending
            {
                return;
            }
            if self.reprompts < self.config.silence_reprompts {
                self.reprompts += 1;
                let phrase = self.config.phrases.reprompt.clone();
                self.speak_phrase(&phrase, AfterReply::Listen);
            } else {
                let phrase = self.config.phrases.silence_goodbye.clone();
                self.end_after_reply("silence");
                self.speak_phrase(&phrase, AfterReply::End("silence".into()));
            }
        }
    }

    /// Sends the reports that sync code queued.
    pub(super) async fn flush_reports(&mut self) {
        for kind in std::mem::take(&mut self.pending_reports) {
            self.report(kind).await;
        }
    }

    /// The call is over: the last transcript, usage and cost, latency, the recording,
    /// and why it ended.
    pub(super) async fn end(mut self, reason: String) {
        self.finish_reply();
        self.flush_stt_audio();
        self.stt_input = None;
        self.flush_reports().await;
        let snapshot = self.usage.snapshot();
        let (cost_cents, cost_breakdown) = self.rates.cost(&snapshot);
        let totals = snapshot.totals();
        self.report(EventKind::Usage {
            stt_requests: totals.stt_requests,
            stt_errors: totals.stt_errors,
            llm_requests: totals.llm_requests,
            llm_errors: totals.llm_errors,
            tts_requests: totals.tts_requests,
            tts_errors: totals.tts_errors,
            cost_cents,
            cost_breakdown,
        })
        .await;
        let latency = self.latency.summary();
        self.report(EventKind::Metrics { latency }).await;
        if let Some(recorder) = self.recorder.take() {
            match recorder.finish().await {
                Ok(stored) => {
                    self.report(EventKind::RecordingStored {
                        location: stored.location,
                        format: stored.format,
                        channels: stored.channels,
                        duration_sec: stored.duration_sec,
                        size_bytes: stored.size_bytes,
                    })
                    .await
                }
                Err(error) => tracing::warn!(%error, "the call's recording was not stored"),
            }
        }
        self.report(EventKind::Ended {
            reason: reason.clone(),
        })
        .await;
        if self.stt_dropped > 0 {
            tracing::warn!(
                frames = self.stt_dropped,
                "audio frames the STT could not take"
            );
        }
        self.metrics.active_calls.dec();
        self.metrics
            .calls_ended
            .get_or_create(&crate::metrics::EndLabels { reason })
            .inc();
        if !self.events.finish(Duration::from_secs(10)).await {
            tracing::warn!("some call events were not delivered");
        }
    }
}
