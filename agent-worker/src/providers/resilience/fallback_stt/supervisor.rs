//! The task behind one resilient STT session: forwards the pipeline's audio to the live
//! provider session, passes its events back on the call's clock, and reconnects when it
//! dies. Positions are counted in samples (= mu-law bytes at 8 kHz) of the pipeline's audio.

use super::{open_in_order, Opening, SttSettings};
use crate::providers::cost::{Kind, UsageMeter};
use crate::providers::resilience::retry::Answered;
use crate::providers::resilience::Link;
use crate::providers::{ProviderError, Stt, SttEvent, SttInput, SttOptions, SttSession};
use futures::stream::{BoxStream, StreamExt};
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

const SAMPLES_PER_MS: u64 = 8;

/// An input with where it sits on the pipeline's clock.
#[derive(Debug, Clone)]
struct Queued {
    /// Samples the pipeline had sent before this input.
    at: u64,
    input: SttInput,
}

impl Queued {
    fn samples(&self) -> u64 {
        match &self.input {
            SttInput::Audio { mulaw, .. } => mulaw.len() as u64,
            SttInput::Finalize => 0,
        }
    }
}

type Events = BoxStream<'static, Result<SttEvent, ProviderError>>;
type Output = mpsc::Sender<Result<SttEvent, ProviderError>>;

pub(super) struct Supervisor {
    links: Arc<[Link<dyn Stt>]>,
    settings: Arc<SttSettings>,
    meter: UsageMeter,
    options: SttOptions,
    /// The link in use (or being replaced).
    current: usize,
    /// The live session's input; `None` while reconnecting or after the pipeline closed.
    audio: Option<mpsc::Sender<SttInput>>,
    events: Option<Events>,
    opened_at: Instant,
    /// Where the live session's time zero is on the call's clock (set by its first frame).
    offset: Option<u64>,
    /// Inputs waiting for the live session.
    pending: VecDeque<Queued>,
    /// Inputs the live session got since its last final: replayed if it dies.
    history: VecDeque<Queued>,
    /// Samples received from the pipeline.
    received: u64,
    /// Samples forwarded but not yet whole milliseconds on the meter.
    unmetered: u64,
    reconnects: VecDeque<Instant>,
    input_open: bool,
    reopening: Option<Opening>,
}

impl Supervisor {
    pub(super) fn new(
        links: Arc<[Link<dyn Stt>]>,
        settings: Arc<SttSettings>,
        meter: UsageMeter,
        options: SttOptions,
        opened: Answered<SttSession>,
    ) -> Self {
        Self {
            links,
            settings,
            meter,
            options,
            current: opened.index,
            audio: Some(opened.value.audio),
            events: Some(opened.value.events),
            opened_at: Instant::now(),
            offset: None,
            pending: VecDeque::new(),
            history: VecDeque::new(),
            received: 0,
            unmetered: 0,
            reconnects: VecDeque::new(),
            input_open: true,
            reopening: None,
        }
    }

    pub(super) async fn run(mut self, mut input: mpsc::Receiver<SttInput>, output: Output) {
        loop {
            if !self.input_open && self.pending.is_empty() {
                // Closing the session's input makes the provider flush and end its stream.
                self.audio = None;
                if self.events.is_none() {
                    return;
                }
            }
            let room = room(self.audio.clone(), !self.pending.is_empty());
            let flow = tokio::select! {
                message = input.recv(), if self.input_open => {
                    self.receive(message);
                    ControlFlow::Continue(())
                }
                permit = room => match permit {
                    Some(permit) => {
                        self.forward(permit);
                        ControlFlow::Continue(())
                    }
                    None => self.fail(&output, self.connection("stopped taking audio")).await,
                },
                event = next_event(&mut self.events) => self.on_event(event, &output).await,
                opened = reopened(&mut self.reopening) => self.on_reopened(opened, &output).await,
            };
            if flow.is_break() {
                return;
            }
        }
    }

    fn connection(&self, message: &str) -> ProviderError {
        ProviderError::Connection {
            provider: self.links[self.current].name.clone(),
            message: message.to_string(),
        }
    }

    fn receive(&mut self, message: Option<SttInput>) {
        let Some(input) = message else {
            self.input_open = false;
            return;
        };
        let queued = Queued {
            at: self.received,
            input,
        };
        self.received += queued.samples();
        self.pending.push_back(queued);
        self.enforce_buffer();
    }

    /// Drops the oldest audio beyond the buffer (never a `Finalize`), counting it.
    fn enforce_buffer(&mut self) {
        let limit = self.settings.buffer_ms * SAMPLES_PER_MS;
        let mut held: u64 = self.pending.iter().map(Queued::samples).sum();
        let mut dropped = 0;
        while held > limit {
            let Some(oldest) = self.pending.iter().position(|q| q.samples() > 0) else {
                break;
            };
            if let Some(queued) = self.pending.remove(oldest) {
                held -= queued.samples();
                dropped += queued.samples();
            }
        }
        if dropped > 0 {
            self.meter.stt_dropped_audio(dropped / SAMPLES_PER_MS);
        }
    }

    fn forward(&mut self, permit: mpsc::OwnedPermit<SttInput>) {
        let Some(queued) = self.pending.pop_front() else {
            return;
        };
        let samples = queued.samples();
        if samples > 0 {
            self.offset.get_or_insert(queued.at);
            self.unmetered += samples;
            let ms = self.unmetered / SAMPLES_PER_MS;
            self.unmetered %= SAMPLES_PER_MS;
            self.meter.stt_audio(&self.links[self.current].name, ms);
        }
        permit.send(queued.input.clone());
        self.history.push_back(queued);
        let limit = self.settings.buffer_ms * SAMPLES_PER_MS;
        while self.history.iter().map(Queued::samples).sum::<u64>() > limit {
            self.history.pop_front();
        }
    }

    /// The live session's time zero on the call's clock, in ms.
    fn offset_ms(&self) -> u64 {
        let at = self
            .offset
            .or_else(|| self.pending.front().map(|q| q.at))
            .unwrap_or(self.received);
        at / SAMPLES_PER_MS
    }

    async fn on_event(
        &mut self,
        event: Option<Result<SttEvent, ProviderError>>,
        output: &Output,
    ) -> ControlFlow<()> {
        match event {
            Some(Ok(event)) => {
                let event = shift(event, self.offset_ms());
                if let SttEvent::Final { end_ms, .. } = &event {
                    let end = end_ms * SAMPLES_PER_MS;
                    // What the final covers needs no replay.
                    self.history.retain(|q| q.at + q.samples() > end);
                }
                match output.send(Ok(event)).await {
                    Ok(()) => ControlFlow::Continue(()),
                    // The pipeline stopped listening: the session is over.
                    Err(_) => ControlFlow::Break(()),
                }
            }
            Some(Err(error)) => self.fail(output, error).await,
            None if !self.input_open && self.pending.is_empty() && self.audio.is_none() => {
                ControlFlow::Break(())
            }
            None => {
                self.fail(output, self.connection("session closed unexpectedly"))
                    .await
            }
        }
    }

    /// The live session died: count it, then reopen (or give up).
    async fn fail(&mut self, output: &Output, error: ProviderError) -> ControlFlow<()> {
        let link = &self.links[self.current];
        self.meter.error(Kind::Stt, &link.name);
        link.breaker.report_failure(&error);
        self.audio = None;
        self.events = None;
        if !self.input_open {
            return ControlFlow::Break(());
        }
        tracing::warn!(provider = %link.name, %error, "STT session failed mid-call; reconnecting");
        let now = Instant::now();
        self.reconnects
            .retain(|&at| now.duration_since(at) < Duration::from_secs(60));
        if self.reconnects.len() >= self.settings.max_reconnects_per_minute as usize {
            let _ = output.send(Err(error)).await;
            return ControlFlow::Break(());
        }
        self.reconnects.push_back(now);
        while let Some(queued) = self.history.pop_back() {
            self.pending.push_front(queued);
        }
        self.enforce_buffer();
        self.offset = None;
        // A session that died young may be a provider that accepts and then drops: try
        // the others first this time.
        let n = self.links.len();
        let start = if now.duration_since(self.opened_at) >= self.settings.stable_after {
            self.current
        } else {
            self.current + 1
        };
        let order = (0..n).map(|i| (start + i) % n).collect();
        self.reopening = Some(open_in_order(
            Arc::clone(&self.links),
            order,
            Arc::clone(&self.settings),
            self.meter.clone(),
            self.options.clone(),
        ));
        ControlFlow::Continue(())
    }

    async fn on_reopened(
        &mut self,
        opened: Result<Answered<SttSession>, ProviderError>,
        output: &Output,
    ) -> ControlFlow<()> {
        self.reopening = None;
        match opened {
            Ok(Answered { index, value }) => {
                self.meter.stt_reconnect(index != self.current);
                tracing::info!(provider = %self.links[index].name, "STT session reopened");
                self.current = index;
                self.audio = Some(value.audio);
                self.events = Some(value.events);
                self.opened_at = Instant::now();
                ControlFlow::Continue(())
            }
            Err(error) => {
                let _ = output.send(Err(error)).await;
                ControlFlow::Break(())
            }
        }
    }
}

/// Room for one more input in the live session, or never (no session, nothing to send).
/// `None` when the session no longer takes input.
async fn room(
    audio: Option<mpsc::Sender<SttInput>>,
    wanted: bool,
) -> Option<mpsc::OwnedPermit<SttInput>> {
    match audio {
        Some(sender) if wanted => sender.reserve_owned().await.ok(),
        _ => std::future::pending().await,
    }
}

async fn next_event(events: &mut Option<Events>) -> Option<Result<SttEvent, ProviderError>> {
    match events {
        Some(events) => events.next().await,
        None => std::future::pending().await,
    }
}

async fn reopened(opening: &mut Option<Opening>) -> Result<Answered<SttSession>, ProviderError> {
    match opening {
        Some(opening) => opening.await,
        None => std::future::pending().await,
    }
}

/// A session's event on the call's clock.
fn shift(event: SttEvent, offset_ms: u64) -> SttEvent {
    match event {
        SttEvent::SpeechStarted { at_ms } => SttEvent::SpeechStarted {
            at_ms: at_ms + offset_ms,
        },
        SttEvent::UtteranceEnd { at_ms } => SttEvent::UtteranceEnd {
            at_ms: at_ms + offset_ms,
        },
        SttEvent::Final {
            text,
            start_ms,
            end_ms,
            confidence,
            speech_final,
        } => SttEvent::Final {
            text,
            start_ms: start_ms + offset_ms,
            end_ms: end_ms + offset_ms,
            confidence,
            speech_final,
        },
        interim @ SttEvent::Interim { .. } => interim,
    }
}
