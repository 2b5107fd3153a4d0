//! The end-of-call report: once a call has ended and its worker has reported everything
//! (its `ended` event, or the grace after the line dropped), its analysis runs (when the
//! assistant has a plan) and one `call.report` event goes to the organization's log.
//! The state lives on the call row (`report_emitted`, a lease), so a restart picks up
//! every report not yet emitted and none is emitted twice.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::analysis::{self, Analyst};
use crate::config::WebhookSettings;
use crate::db::calls;
use crate::engine::Clock;

/// How long one replica holds a call's report (analysis included) before another may.
const LEASE_SEC: f64 = 300.0;

/// Reports calls that are ready, analysis first.
#[derive(Debug, Clone)]
pub struct Reporter {
    db: PgPool,
    clock: Arc<dyn Clock>,
    settings: WebhookSettings,
    analyst: Analyst,
    /// The API's base URL, for the recordings' links.
    public_url: String,
}

impl Reporter {
    pub fn new(
        db: PgPool,
        clock: Arc<dyn Clock>,
        settings: WebhookSettings,
        analyst: Analyst,
        public_url: String,
    ) -> Self {
        Self {
            db,
            clock,
            settings,
            analyst,
            public_url,
        }
    }

    /// Reports every call that is ready now, a few side by side; returns how many.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let due = sqlx::query_scalar!(
            r#"with due as (
                   select c.id from calls c
                   where not c.report_emitted and call_status_rank(c.status) = 4
                     and (c.report_lease_expires_at is null or c.report_lease_expires_at <= $1)
                     and (c.answered_at is null
                          or exists (select 1 from call_events e
                                     where e.call_id = c.id and e.kind = 'ended')
                          or coalesce(c.ended_at, c.heard_at) <= $1 - make_interval(secs => $2))
                   order by c.id
                   limit 16
                   for update of c skip locked
               )
               update calls set report_lease_expires_at = $1 + make_interval(secs => $3)
               from due where calls.id = due.id
               returning calls.id"#,
            now,
            self.settings.report_grace_sec,
            LEASE_SEC
        )
        .fetch_all(&self.db)
        .await?;
        let count = due.len();
        let reports = due.into_iter().map(|call| async move {
            if let Err(err) = self.report(call).await {
                // The lease expires and a later pass tries again.
                tracing::error!(call_id = %call, error = ?err, "end-of-call report");
            }
        });
        futures::future::join_all(reports).await;
        Ok(count)
    }

    #[tracing::instrument(skip(self))]
    async fn report(&self, call: Uuid) -> anyhow::Result<()> {
        self.analyst.analyze_if_planned(call).await?;
        let Some(data) = self.report_data(call).await? else {
            return Ok(());
        };
        let mut tx = self.db.begin().await?;
        // The update locks the row: a report is emitted once, in the call's event order.
        let emitted = sqlx::query!(
            "update calls set report_emitted = true, report_lease_expires_at = null
             where id = $1 and not report_emitted returning org_id, campaign_id",
            call
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = emitted else {
            return Ok(());
        };
        sqlx::query_scalar!(
            "select emit_org_event($1, 'call.report', $2, $3, $4)",
            row.org_id,
            call,
            row.campaign_id,
            data
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The report's `data`: the call's facts, transcript, recordings and analysis.
    async fn report_data(&self, call: Uuid) -> anyhow::Result<Option<Value>> {
        let Some(c) = sqlx::query!(
            "select c.org_id, c.campaign_id, c.contact_id, c.assistant_id, c.to_phone, c.from_phone,
                    c.status, c.answered_by, c.outcome, c.outcome_notes, c.started_at,
                    c.answered_at, c.ended_at, c.duration_sec, c.end_reason, c.cost_cents,
                    c.cost_breakdown, c.latency
             from calls c where c.id = $1",
            call
        )
        .fetch_optional(&self.db)
        .await?
        else {
            return Ok(None);
        };
        let transcript: Vec<Value> = calls::transcript(&self.db, c.org_id, call)
            .await?
            .into_iter()
            .map(|t| {
                json!({"speaker": t.speaker, "text": t.text, "startMs": t.start_ms, "endMs": t.end_ms})
            })
            .collect();
        let recordings: Vec<Value> = calls::recordings(&self.db, c.org_id, call)
            .await?
            .into_iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "url": format!("{}/api/v1/calls/{call}/recordings/{}/audio",
                        self.public_url.trim_end_matches('/'), r.id),
                    "format": r.format,
                    "channels": r.channels,
                    "durationSec": r.duration_sec,
                })
            })
            .collect();
        let analysis = analysis::view(&self.db, c.org_id, call).await?;
        Ok(Some(json!({
            "callId": call,
            "campaignId": c.campaign_id,
            "contactId": c.contact_id,
            "assistantId": c.assistant_id,
            "to": c.to_phone,
            "from": c.from_phone,
            "status": c.status,
            "answeredBy": c.answered_by,
            "outcome": c.outcome,
            "outcomeNotes": c.outcome_notes,
            "startedAt": c.started_at,
            "answeredAt": c.answered_at,
            "endedAt": c.ended_at,
            "durationSec": c.duration_sec,
            "endedReason": c.end_reason,
            "costCents": c.cost_cents,
            "costBreakdown": c.cost_breakdown,
            "latency": c.latency,
            "transcript": transcript,
            "recordings": recordings,
            "analysis": analysis,
        })))
    }
}

/// Runs [`Reporter::pass`] every `poll` until `stop`.
pub async fn run(reporter: Reporter, poll: Duration, stop: tokio_util::sync::CancellationToken) {
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {
                if let Err(err) = reporter.pass().await {
                    tracing::error!(error = ?err, "end-of-call report pass failed");
                }
            }
        }
    }
}
