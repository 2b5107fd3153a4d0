//! Answering a call to one of our numbers (Twilio's voice webhook).
//!
//! Inside business hours, with an assistant and a free worker slot, the call gets
//! `<Connect><Stream>` to the workers with the call's id and token, exactly as a dial's
//! TwiML carries them, and becomes a call record like any other (direction `inbound`).
//! Otherwise Twilio answers alone: the number's after-hours or no-worker action says its
//! message and hangs up, or records a voicemail that Twilio transcribes. Every inbound
//! call is recorded, whichever way it was answered.
//!
//! Worker capacity is shared with campaigns: an inbound call may take any free slot,
//! and campaigns leave `engine.inbound_reserve_slots` free while some number answers
//! with an assistant, so a burst of dials cannot take the last slot from a caller. No
//! live call is ever cut for another.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{contact, twiml};
use crate::db::numbers::NumberRow;
use crate::dialer::twilio::twiml::connect_stream;
use crate::domain::number::{BusinessHours, FallbackAction};
use crate::error::ApiError;
use crate::state::AppState;

/// Why the assistant did not take the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    AfterHours,
    NoWorker,
}

/// What a call to `number` is answered with, given the clock and free slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Assistant(Uuid),
    Fallback(Fallback),
}

/// The rule alone (no I/O): closed or no assistant -> after hours; no slot -> no worker.
pub fn decide(number: &NumberRow, trunk_mode: &str, now: DateTime<Utc>, free: i64) -> Decision {
    let Some(assistant) = open_assistant(number, now) else {
        return Decision::Fallback(Fallback::AfterHours);
    };
    if trunk_mode != "twilio_stream" || free <= 0 {
        return Decision::Fallback(Fallback::NoWorker);
    }
    Decision::Assistant(assistant)
}

/// The number's assistant, if it has one and the number is open at `now`.
pub fn open_assistant(number: &NumberRow, now: DateTime<Utc>) -> Option<Uuid> {
    let hours = BusinessHours {
        timezone: number.timezone.clone(),
        days: number.business_days.clone(),
        open_hour: number.open_hour,
        close_hour: number.close_hour,
    };
    number.assistant_id.filter(|_| hours.is_open(now))
}

/// The Twilio parameters of an inbound call.
pub struct IncomingCall<'a> {
    pub call_sid: &'a str,
    pub from: &'a str,
}

/// Answers the call: records it and returns the TwiML.
pub async fn answer(
    state: &AppState,
    number: &NumberRow,
    call: IncomingCall<'_>,
) -> Result<String, ApiError> {
    let db = &state.db;
    if let Some(twiml) = answer_again(state, number, call.call_sid).await? {
        return Ok(twiml);
    }
    let now = state.engine.clock().now();
    let trunk_mode = sqlx::query_scalar!("select mode from trunks where id = $1", number.trunk_id)
        .fetch_one(db)
        .await?;
    let free =
        crate::engine::free_stream_slots(db, now, state.settings.workers.heartbeat_ttl_sec).await?;
    let decision = decide(number, &trunk_mode, now, free);
    let (found, variables) = contact::of_caller(db, number.org_id, call.from).await?;
    let call_id = Uuid::now_v7();
    let (action, assistant, end_reason) = match decision {
        Decision::Assistant(a) => ("assistant", Some(a), None),
        Decision::Fallback(why) => {
            let (action, reason) = match why {
                Fallback::AfterHours => (&number.after_hours_action, "after_hours"),
                Fallback::NoWorker => (&number.no_worker_action, "no_worker"),
            };
            (action.as_str(), None, Some(reason))
        }
    };
    let version = match assistant {
        Some(a) => sqlx::query!(
            "select current_version, coalesce((definition->>'maxDurationSec')::int, 600) as \"max_duration_sec!\"
             from assistants where id = $1 and org_id = $2",
            a,
            number.org_id
        )
        .fetch_optional(db)
        .await?
        .map(|r| (r.current_version, r.max_duration_sec)),
        None => None,
    };
    sqlx::query!(
        "insert into calls (id, org_id, contact_id, assistant_id, assistant_version, trunk_id,
                            mode, to_phone, from_phone, status, provider_call_id, variables,
                            started_at, answered_at, end_reason, direction, phone_number_id,
                            inbound_action, created_at, heard_at)
         values ($1, $2, $3, $4, $5, $6, 'twilio_stream', $7, $8, 'in_progress', $9, $10,
                 $11, $11, $12, 'inbound', $13, $14, $11, $11)",
        call_id,
        number.org_id,
        found.as_ref().map(|c| c.id),
        assistant,
        version.map(|v| v.0),
        number.trunk_id,
        number.number,
        call.from,
        call.call_sid,
        variables,
        now,
        end_reason,
        number.id,
        action
    )
    .execute(db)
    .await?;
    tracing::info!(call_id = %call_id, number_id = %number.id, action, "inbound call answered");
    Ok(match (action, version) {
        ("assistant", Some((_, max_duration_sec))) => {
            let token = state
                .engine
                .mint_call_token(call_id, number.org_id, now, max_duration_sec);
            connect_stream(
                &state.settings.twilio.media_stream_url,
                &[
                    ("callId", call_id.to_string().as_str()),
                    ("token", token.as_str()),
                ],
            )
        }
        _ => fallback_twiml(state, number, end_reason, call_id),
    })
}

fn fallback_twiml(
    state: &AppState,
    number: &NumberRow,
    end_reason: Option<&str>,
    call_id: Uuid,
) -> String {
    let (action, message) = if end_reason == Some("no_worker") {
        (&number.no_worker_action, &number.no_worker_message)
    } else {
        (&number.after_hours_action, &number.after_hours_message)
    };
    match FallbackAction::parse(action) {
        FallbackAction::Message => twiml::message(message),
        FallbackAction::Voicemail => {
            twiml::voicemail(message, &state.settings.server.public_url, call_id)
        }
    }
}

/// Twilio retries a webhook that timed out: the call it already made gets the same
/// answer (a fresh token for the same call), never a second record.
async fn answer_again(
    state: &AppState,
    number: &NumberRow,
    call_sid: &str,
) -> Result<Option<String>, ApiError> {
    let Some(row) = sqlx::query!(
        r#"select c.id, c.org_id, c.inbound_action, c.end_reason, c.created_at,
                  coalesce((a.definition->>'maxDurationSec')::int, 600) as "max_duration_sec!"
           from calls c left join assistants a on a.id = c.assistant_id
           where c.provider_call_id = $1 and c.phone_number_id = $2"#,
        call_sid,
        number.id
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(
        if row.inbound_action.as_deref() == Some("assistant") {
            let token = state.engine.mint_call_token(
                row.id,
                row.org_id,
                row.created_at,
                row.max_duration_sec,
            );
            connect_stream(
                &state.settings.twilio.media_stream_url,
                &[
                    ("callId", row.id.to_string().as_str()),
                    ("token", token.as_str()),
                ],
            )
        } else {
            fallback_twiml(state, number, row.end_reason.as_deref(), row.id)
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn number(assistant: Option<Uuid>) -> NumberRow {
        let now = Utc::now();
        NumberRow {
            id: Uuid::nil(),
            org_id: Uuid::nil(),
            trunk_id: Uuid::nil(),
            number: "+12125550100".into(),
            assistant_id: assistant,
            timezone: "America/New_York".into(),
            business_days: vec!["mon".into(), "tue".into()],
            open_hour: 9,
            close_hour: 17,
            after_hours_action: "voicemail".into(),
            after_hours_message: "closed".into(),
            no_worker_action: "message".into(),
            no_worker_message: "busy".into(),
            livekit_inbound_trunk_id: None,
            livekit_dispatch_rule_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn hours_come_before_slots_and_slots_before_the_assistant() {
        let a = Uuid::now_v7();
        // Monday 10:00 in New York.
        let open = Utc.with_ymd_and_hms(2026, 12, 7, 15, 0, 0).unwrap();
        let closed = Utc.with_ymd_and_hms(2026, 12, 7, 23, 0, 0).unwrap();
        assert_eq!(
            decide(&number(Some(a)), "twilio_stream", open, 1),
            Decision::Assistant(a)
        );
        assert_eq!(
            decide(&number(Some(a)), "twilio_stream", open, 0),
            Decision::Fallback(Fallback::NoWorker)
        );
        assert_eq!(
            decide(&number(Some(a)), "twilio_stream", closed, 5),
            Decision::Fallback(Fallback::AfterHours)
        );
        assert_eq!(
            decide(&number(None), "twilio_stream", open, 5),
            Decision::Fallback(Fallback::AfterHours)
        );
    }
}
