//! Taking one call: the transport's handshake, checking the call's token, fetching its job
//! (or using the standalone assistant), wiring providers, recording and events, and
//! running the session.

use crate::app::Worker;
use crate::control::reporter::{EventReporter, ReporterConfig};
use crate::pipeline::events::{CallEvents, LogEvents};
use crate::pipeline::session::{self, SessionParts};
use crate::providers::cost::UsageMeter;
use crate::supervision::transport::SupervisedTransport;
use crate::transport::twilio::TwilioTransport;
use crate::transport::Transport;
use async_trait::async_trait;
use axum::extract::ws::WebSocket;
use secrecy::SecretString;
use shared::events::EventKind;
use shared::job::CallJob;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;
use uuid::Uuid;

/// Runs a Media Streams call from the upgraded socket to the end.
pub async fn take_twilio_call(worker: Arc<Worker>, socket: WebSocket) {
    let wait = Duration::from_millis(worker.config.server.handshake_timeout_ms);
    let (mut transport, start) = match TwilioTransport::accept(socket, wait).await {
        Ok(accepted) => accepted,
        Err(error) => {
            tracing::warn!(%error, "media stream did not start");
            return;
        }
    };
    let admitted = admit(&worker, &start.custom_parameters).await;
    let (job, token) = match admitted {
        Ok(admitted) => admitted,
        Err(error) => {
            tracing::warn!(%error, call_sid = %start.call_sid, "refusing the media stream");
            transport.hang_up().await;
            return;
        }
    };
    let span = tracing::info_span!("call", call_id = %job.call_id, org_id = %job.org_id,
        campaign_id = ?job.campaign_id, call_sid = %start.call_sid);
    run_call(worker, job, token, &mut transport)
        .instrument(span)
        .await;
}

/// Why a stream is refused.
#[derive(Debug, thiserror::Error)]
enum AdmitError {
    #[error("customParameters lack {0}")]
    Missing(&'static str),
    #[error("callId is not a UUID")]
    BadCallId,
    #[error("the call token is invalid: {0}")]
    Token(String),
    #[error("fetching the job: {0}")]
    Job(String),
}

/// Checks the call's token and fetches its job; standalone mode uses its assistant.
async fn admit(
    worker: &Worker,
    parameters: &std::collections::BTreeMap<String, String>,
) -> Result<(CallJob, Option<String>), AdmitError> {
    if let Some(template) = &worker.standalone_job {
        let mut job = template.clone();
        job.call_id = parameters
            .get("callId")
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(Uuid::new_v4);
        return Ok((job, None));
    }
    let call_id: Uuid = parameters
        .get("callId")
        .ok_or(AdmitError::Missing("callId"))?
        .parse()
        .map_err(|_| AdmitError::BadCallId)?;
    let token = parameters
        .get("token")
        .ok_or(AdmitError::Missing("token"))?;
    worker
        .tokens
        .verify_for(token, call_id, chrono::Utc::now().timestamp())
        .map_err(|e| AdmitError::Token(e.to_string()))?;
    let job = worker
        .control
        .fetch_job(call_id, &SecretString::from(token.clone()))
        .await
        .map_err(|e| AdmitError::Job(e.to_string()))?;
    Ok((job, Some(token.clone())))
}

/// Wires one call's session and runs it.
pub async fn run_call(
    worker: Arc<Worker>,
    job: CallJob,
    token: Option<String>,
    transport: &mut dyn Transport,
) -> String {
    let events: Box<dyn CallEvents> = match &token {
        Some(token) => reporter_events(EventReporter::for_job(
            worker.control.clone(),
            &job,
            SecretString::from(token.clone()),
            ReporterConfig::default(),
        )),
        None => Box::new(LogEvents {
            call: job.call_id.to_string(),
        }),
    };
    run_session(worker, job, events, transport).await
}

/// The call's events through `reporter` (a LiveKit job reports `connected` on it before
/// the dial, then hands it to the session).
pub fn reporter_events(reporter: EventReporter) -> Box<dyn CallEvents> {
    Box::new(ReporterEvents(Some(reporter)))
}

/// Wires one call's providers and recording and runs its conversation over `transport`,
/// whichever transport that is; returns why the call ended.
pub async fn run_session(
    worker: Arc<Worker>,
    job: CallJob,
    events: Box<dyn CallEvents>,
    transport: &mut dyn Transport,
) -> String {
    let usage = UsageMeter::default();
    let providers = &worker.providers;
    let (stt, llm, tts) = match (
        providers.stt(&job.stt, &usage),
        providers.llm(&job.llm, &usage),
        providers.tts(&job.tts, &usage),
    ) {
        (Ok(stt), Ok(llm), Ok(tts)) => (stt, llm, tts),
        (stt, llm, tts) => {
            let error = [stt.err(), llm.err(), tts.err()]
                .into_iter()
                .flatten()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            tracing::error!(%error, "the job names providers this worker cannot use");
            let mut events = events;
            events
                .report(
                    0,
                    EventKind::Ended {
                        reason: format!("provider_config: {error}"),
                    },
                )
                .await;
            events.finish(Duration::from_secs(10)).await;
            transport.hang_up().await;
            return "provider_config".into();
        }
    };
    let recorder = match &worker.recordings {
        Some(store) => match store.start(job.org_id, job.call_id, Instant::now()).await {
            Ok(recorder) => Some(recorder),
            Err(error) => {
                tracing::warn!(%error, "this call will not be recorded");
                None
            }
        },
        None => None,
    };
    let parts = SessionParts {
        config: worker.pipeline.clone(),
        stt,
        llm,
        tts,
        usage,
        rates: worker.rates.clone(),
        phrases: worker.phrases.clone(),
        metrics: worker.metrics.clone(),
        events,
        recorder,
        worker_id: worker.worker_id.clone(),
        job,
    };
    let line = worker.supervision.open(parts.job.call_id);
    let mut transport = SupervisedTransport::new(transport, line);
    let reason = session::run(parts, &mut transport).await;
    tracing::info!(reason, "call ended");
    reason
}

/// Events to the control plane through the ordered, retrying reporter.
struct ReporterEvents(Option<EventReporter>);

#[async_trait]
impl CallEvents for ReporterEvents {
    async fn report(&mut self, at_ms: i64, kind: EventKind) {
        if let Some(reporter) = &self.0 {
            if reporter.report_at(kind, at_ms).await.is_err() {
                tracing::warn!("the event reporter stopped; an event was not sent");
            }
        }
    }

    async fn finish(&mut self, wait: Duration) -> bool {
        match self.0.take() {
            Some(reporter) => reporter.finish(wait).await,
            None => true,
        }
    }
}
