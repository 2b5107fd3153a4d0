//! The dial-time rules for one leased attempt, decided without writing anything: the
//! caller writes the decisions of a whole batch in one transaction.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use shared::PhoneNumber;

use super::queue::{LeasedAttempt, RunningCampaign};
use super::window::CallingWindow;
use super::zones;
use crate::compliance::gate;

/// What happens to a leased attempt.
#[derive(Debug)]
pub(super) enum Plan {
    /// The attempt ends without a dial (`skipped` with a reason, or `exhausted`).
    Close {
        state: &'static str,
        reason: Option<&'static str>,
        decision: &'static str,
        detail: Option<String>,
    },
    /// Back to the queue, due at `at`.
    Release {
        at: DateTime<Utc>,
        reason: Option<&'static str>,
        decision: &'static str,
        detail: String,
    },
    /// Every rule passed: dial it (after the customer's pre-dial check, if any).
    Dial { phone: PhoneNumber },
}

/// The campaign-wide facts the rules are checked against.
pub(super) struct Rules<'a> {
    pub campaign: &'a RunningCampaign,
    pub window: &'a CallingWindow,
    pub zone: Tz,
    /// The batch's numbers found on the organization's Do-Not-Call list.
    pub dnc: &'a HashSet<String>,
    pub now: DateTime<Utc>,
}

impl Rules<'_> {
    /// Applies the rules to one attempt, in the order the decision log documents:
    /// attempts left, a valid number, DNC, the calling window, then compliance.
    pub(super) async fn plan(
        &self,
        db: &sqlx::PgPool,
        attempt: &LeasedAttempt,
    ) -> sqlx::Result<Plan> {
        let (campaign, now) = (self.campaign, self.now);
        if attempt.attempts >= campaign.max_attempts {
            return Ok(close("exhausted", None, "exhausted", None));
        }
        let Ok(phone) = PhoneNumber::parse(&attempt.phone, None) else {
            return Ok(close(
                "skipped",
                Some("invalid_number"),
                "skipped_invalid_number",
                None,
            ));
        };
        if self.dnc.contains(phone.as_str()) {
            return Ok(close("skipped", Some("dnc"), "skipped_dnc", None));
        }
        let zones = zones::callee_zones(attempt.timezone.as_deref(), &phone, self.zone);
        if !self.window.is_open(now, &zones) {
            let names: Vec<&str> = zones.iter().map(|z| z.name()).collect();
            return Ok(match self.window.next_open(now, &zones) {
                Some(at) => Plan::Release {
                    at,
                    reason: Some("window"),
                    decision: "deferred_window",
                    detail: format!("opens {at} in {}", names.join(", ")),
                },
                None => close(
                    "skipped",
                    Some("window"),
                    "skipped_window",
                    Some(format!("never open in {}", names.join(", "))),
                ),
            });
        }
        // Compliance (consent, state rules): refusals are decisions like the rules above.
        let facts = gate::DialFacts {
            campaign_id: campaign.id,
            telemarketing: campaign.telemarketing,
            consent_kind: attempt.consent_kind.as_deref(),
            contact_zone: attempt.timezone.as_deref(),
            outside_legal_hours: campaign.allow_outside_legal_hours,
            phone: &phone,
            now,
        };
        Ok(match gate::check_before_dial(db, facts).await? {
            gate::Verdict::Dial => Plan::Dial { phone },
            gate::Verdict::Defer {
                until,
                reason,
                decision,
                detail,
            } => Plan::Release {
                at: until,
                reason: Some(reason),
                decision,
                detail,
            },
            gate::Verdict::Skip {
                reason,
                decision,
                detail,
            } => close("skipped", Some(reason), decision, Some(detail)),
        })
    }
}

fn close(
    state: &'static str,
    reason: Option<&'static str>,
    decision: &'static str,
    detail: Option<String>,
) -> Plan {
    Plan::Close {
        state,
        reason,
        decision,
        detail,
    }
}
