//! The end-of-call report: once a call has ended and its worker has reported everything
//! (its `ended` event, or the grace after the line dropped), its analysis runs (when the
//! assistant has a plan) and one `call.report` event goes to the organization's log.
//! The state lives on the call row (`report_emitted`, a lease), so a restart picks up
//! every report not yet emitted and none is emitted twice.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::analysis::{self, Analyst};
use crate::config::WebhookSettings;
use crate::db::calls;
use crate::engine::Clock;

/// Calls leased per pass. A report is one transaction, so at 1,000 ended calls a second
/// the reporter must take hundreds per pass to keep up.
const BATCH: i64 = 256;

/// Reports (each on its own connection) in flight at once: enough to overlap round trips,
/// few enough to leave most of the pool to the engine and the API.
const PARALLEL: usize = 8;

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

    /// Reports up to [`BATCH`] calls that are ready now, [`PARALLEL`] side by side;
    /// returns how many were due.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        // The lease is taken and, per call, whether its assistant has an analysis plan is
        // read in the same statement: a call without a plan costs no look-up of its own.
        let due = sqlx::query!(
            r#"with due as (
                   select c.id from calls c
                   where not c.report_emitted and call_status_rank(c.status) = 4
                     and (c.report_lease_expires_at is null or c.report_lease_expires_at <= $1)
                     and (c.answered_at is null
                          or exists (select 1 from call_events e
                                     where e.call_id = c.id and e.kind = 'ended')
                          or coalesce(c.ended_at, c.heard_at) <= $1 - make_interval(secs => $2))
                   order by c.id
                   limit $4
                   for update of c skip locked
               )
               update calls set report_lease_expires_at = $1 + make_interval(secs => $3)
               from due where calls.id = due.id
               returning calls.id,
                         exists (select 1 from assistant_analysis_plans p
                                 where p.assistant_id = calls.assistant_id
                                   and p.org_id = calls.org_id) as "planned!""#,
            now,
            self.settings.report_grace_sec,
            self.settings.report_lease_sec,
            BATCH
        )
        .fetch_all(&self.db)
        .await?;
        let count = due.len();
        futures::stream::iter(due)
            .for_each_concurrent(PARALLEL, |call| async move {
                if let Err(err) = self.report(call.id, call.planned).await {
                    // The lease expires and a later pass tries again.
                    tracing::error!(call_id = %call.id, error = ?err, "end-of-call report");
                }
            })
            .await;
        Ok(count)
    }

    /// Analyses the call when its assistant has a plan (a request to an LLM, outside any
    /// transaction), then reads the call and emits its report in one transaction.
    #[tracing::instrument(skip(self))]
    async fn report(&self, call: Uuid, planned: bool) -> anyhow::Result<()> {
        if planned {
            self.analyst.analyze_if_planned(call).await?;
        }
        let mut tx = self.db.begin().await?;
        // The update locks the row: a report is emitted once, in the call's event order.
        let Some(c) = sqlx::query!(
            r#"update calls set report_emitted = true, report_lease_expires_at = null
             where id = $1 and not report_emitted
             returning org_id as "org_id!", campaign_id, contact_id, assistant_id, to_phone, from_phone,
                       status, answered_by, outcome, outcome_notes, started_at, answered_at,
                       ended_at, duration_sec, end_reason, cost_cents, cost_breakdown, latency"#,
            call
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(());
        };
        let transcript: Vec<Value> = calls::transcript(&mut *tx, c.org_id, call)
            .await?
            .into_iter()
            .map(|t| {
                json!({"speaker": t.speaker, "text": t.text, "startMs": t.start_ms, "endMs": t.end_ms})
            })
            .collect();
        let recordings: Vec<Value> = calls::recordings(&mut *tx, c.org_id, call)
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
        let analysis = analysis::view(&mut *tx, c.org_id, call).await?;
        let data = json!({
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
        });
        sqlx::query_scalar!(
            "select emit_org_event($1, 'call.report', $2, $3, $4)",
            c.org_id,
            call,
            c.campaign_id,
            data
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Runs [`Reporter::pass`] every `poll` until `stop`; a pass that found a full batch is
/// followed at once by the next, so a backlog drains at the reporter's own pace.
pub async fn run(reporter: Reporter, poll: Duration, stop: tokio_util::sync::CancellationToken) {
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {
                loop {
                    match reporter.pass().await {
                        Ok(n) if n as i64 == BATCH && !stop.is_cancelled() => continue,
                        Ok(_) => break,
                        Err(err) => {
                            tracing::error!(error = ?err, "end-of-call report pass failed");
                            break;
                        }
                    }
                }
            }
        }
    }
}
