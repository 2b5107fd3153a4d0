//! The compliance gate the engine runs before every dial, after its own rules (DNC, the
//! federal window): consent for telemarketing, then the callee's state's hours and call
//! frequency. It only decides; the engine releases or closes the attempt and records the
//! decision, as it does for its own rules.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use shared::PhoneNumber;
use sqlx::PgPool;
use uuid::Uuid;

use super::{consent, state_rules};
use crate::engine::window::{CallingWindow, DAY_NAMES};

/// What the gate needs to know about one dial.
#[derive(Debug, Clone, Copy)]
pub struct DialFacts<'a> {
    pub campaign_id: Uuid,
    pub telemarketing: bool,
    /// The contact's declared consent kind (`written`, `express`, `none`), if any.
    pub consent_kind: Option<&'a str>,
    /// The contact's own IANA zone, if known.
    pub contact_zone: Option<&'a str>,
    /// The campaign's `allowOutsideLegalHours`: lifts the state's hours as it lifts the
    /// federal window (its call-frequency cap stays).
    pub outside_legal_hours: bool,
    pub phone: &'a PhoneNumber,
    pub now: DateTime<Utc>,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Dial,
    /// Not now: try again at `until`.
    Defer {
        until: DateTime<Utc>,
        /// The attempt's `skip_reason` while it waits.
        reason: &'static str,
        /// The decision recorded.
        decision: &'static str,
        detail: String,
    },
    /// Never, for this campaign.
    Skip {
        reason: &'static str,
        decision: &'static str,
        detail: String,
    },
}

/// Decides whether this dial may go out now.
pub async fn check_before_dial(db: &PgPool, facts: DialFacts<'_>) -> sqlx::Result<Verdict> {
    if let Some(why) = consent::refusal(facts.telemarketing, facts.consent_kind) {
        return Ok(Verdict::Skip {
            reason: "no_consent",
            decision: "skipped_no_consent",
            detail: format!(
                "{why}; the contact's consent is {}",
                facts.consent_kind.unwrap_or("not recorded")
            ),
        });
    }
    let Some(rule) = state_rules::for_number(facts.phone) else {
        return Ok(Verdict::Dial);
    };
    let zones: Vec<Tz> = match facts.contact_zone.and_then(|z| z.parse::<Tz>().ok()) {
        Some(zone) => vec![zone],
        None => rule.zones(),
    };
    let every_day: Vec<String> = DAY_NAMES.iter().map(|d| d.to_string()).collect();
    let hours = CallingWindow::new(&every_day, rule.start_hour, rule.end_hour, false);
    let cite = || format!("{} ({})", rule.name, rule.source);
    if !facts.outside_legal_hours && !hours.is_open(facts.now, &zones) {
        return Ok(match hours.next_open(facts.now, &zones) {
            Some(until) => Verdict::Defer {
                until,
                reason: "state_hours",
                decision: "deferred_state_hours",
                detail: format!(
                    "{}: calls only {}:00-{}:00 callee-local; opens {until} (rule: {})",
                    rule.state,
                    rule.start_hour,
                    rule.end_hour,
                    cite()
                ),
            },
            None => Verdict::Skip {
                reason: "state_hours",
                decision: "skipped_state_hours",
                detail: format!("{}: never open (rule: {})", rule.state, cite()),
            },
        });
    }
    if let Some(max) = rule.max_calls_per24h {
        let since = facts.now - Duration::hours(24);
        let recent = recent_calls(db, facts.campaign_id, facts.phone.as_str(), since).await?;
        if recent.len() >= max as usize {
            // The call that leaves the 24-hour window first frees the slot.
            let until = recent[recent.len() - max as usize] + Duration::hours(24);
            return Ok(Verdict::Defer {
                until,
                reason: "state_frequency",
                decision: "deferred_state_frequency",
                detail: format!(
                    "{}: at most {max} calls per 24 hours to one number; {} made since {since}; next at {until} (rule: {})",
                    rule.state,
                    recent.len(),
                    cite()
                ),
            });
        }
    }
    Ok(Verdict::Dial)
}

/// When this campaign created calls to `phone` after `since`, oldest first.
async fn recent_calls(
    db: &PgPool,
    campaign: Uuid,
    phone: &str,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<DateTime<Utc>>> {
    sqlx::query_scalar!(
        "select created_at from calls
         where campaign_id = $1 and to_phone = $2 and created_at > $3
         order by created_at",
        campaign,
        phone,
        since
    )
    .fetch_all(db)
    .await
}
