//! Customers' systems: signed webhooks out of the organization's event log, the pre-dial
//! eligibility check, and post-call analysis.
//!
//! Events are written into `org_events` (by triggers and `emit_org_event`, in the same
//! transaction as the change they describe), each with one `webhook_deliveries` row per
//! subscribed endpoint: the outbox. [`delivery`] sends them, [`report`] emits the
//! end-of-call report once a call is fully known (after [`analysis`]), [`pre_dial`] is
//! asked by the engine before a dial. Both loops run beside the engine in every replica
//! that has `webhooks.enabled`; leases in PostgreSQL keep replicas apart.

pub mod analysis;
pub mod delivery;
pub mod pre_dial;
pub mod report;
pub mod signature;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::crypto::SecretBox;
use crate::engine::Clock;

/// The event types an endpoint may subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    "call.status",
    "call.report",
    "campaign.started",
    "campaign.paused",
    "campaign.completed",
    "campaign.stopped",
    "campaign.failed",
    "contact.opted_out",
];

/// The delivery and report loops of one replica.
#[derive(Debug, Clone)]
pub struct Integrations {
    pub deliverer: delivery::Deliverer,
    pub reporter: report::Reporter,
    poll: Duration,
}

impl Integrations {
    pub fn new(
        db: PgPool,
        clock: Arc<dyn Clock>,
        secrets: Arc<SecretBox>,
        settings: &Settings,
    ) -> anyhow::Result<Self> {
        let analyst = analysis::Analyst::new(db.clone(), settings.analysis.clone())?;
        Ok(Self {
            deliverer: delivery::Deliverer::new(
                db.clone(),
                clock.clone(),
                secrets,
                settings.webhooks.clone(),
            )?,
            reporter: report::Reporter::new(
                db,
                clock,
                settings.webhooks.clone(),
                analyst,
                settings.server.public_url.clone(),
            ),
            poll: Duration::from_millis(settings.webhooks.poll_ms.max(10)),
        })
    }

    /// Runs both loops until `stop` fires.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!("webhook delivery started");
        tokio::join!(
            self.deliverer.run(stop.clone()),
            report::run(self.reporter, self.poll, stop)
        );
        tracing::info!("webhook delivery stopped");
    }
}
