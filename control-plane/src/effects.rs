//! What a worker's event does to the call's records, and the actions the control plane
//! carries out for it (hang up, transfer). Record changes happen inside the caller's
//! transaction; actions run after it commits.

use chrono::{DateTime, Utc};
use shared::events::{EventKind, Speaker};
use shared::{CallOutcome, PhoneNumber};
use uuid::Uuid;

use crate::db::Tx;
use crate::engine::window::CallingWindow;
use crate::engine::zones::callee_zones;
use crate::error::ApiError;
use crate::state::AppState;

/// Something to do on the live call once the events are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    HangUp,
    Transfer(String),
    /// Text the call's other party.
    SendSms(String),
}

/// Applies one event's effect on the records; returns an action to carry out, if any.
pub async fn apply(
    tx: &mut Tx<'_>,
    call: Uuid,
    org: Uuid,
    kind: &EventKind,
    now: DateTime<Utc>,
) -> Result<Option<Action>, ApiError> {
    match kind {
        EventKind::Connected { worker_id } => {
            sqlx::query!(
                "update calls set worker_id = $2 where id = $1",
                call,
                worker_id
            )
            .execute(&mut **tx)
            .await?;
        }
        EventKind::Transcript {
            speaker,
            text,
            start_ms,
            end_ms,
            confidence,
        } => {
            let speaker = match speaker {
                Speaker::Agent => "agent",
                Speaker::Callee => "callee",
            };
            sqlx::query!(
                "insert into transcript_entries (call_id, org_id, start_ms, end_ms, speaker, text, confidence)
                 values ($1, $2, $3, $4, $5, $6, $7)",
                call, org, start_ms, end_ms, speaker, text, *confidence
            )
            .execute(&mut **tx)
            .await?;
        }
        EventKind::ToolCall { .. } => {}
        EventKind::Outcome { outcome, notes } => {
            sqlx::query!(
                "update calls set outcome = $2, outcome_notes = coalesce($3, outcome_notes) where id = $1",
                call, outcome.as_str(), notes.as_deref()
            )
            .execute(&mut **tx)
            .await?;
            if *outcome == CallOutcome::DoNotCall {
                add_to_dnc(tx, call, org, "callee asked not to be called").await?;
            }
            // The agent heard a machine where no carrier AMD said so (LiveKit SIP has none,
            // Twilio's may be off or say `human`): record it as the call's answerer, so the
            // attempt settles as `voicemail` (the campaign's voicemail retry) and the
            // abandonment rate does not count the machine as a person.
            if *outcome == CallOutcome::Voicemail {
                sqlx::query!(
                    "update calls set answered_by = 'machine_agent'
                     where id = $1 and (answered_by is null or answered_by in ('human', 'unknown'))",
                    call
                )
                .execute(&mut **tx)
                .await?;
            }
        }
        EventKind::Metrics { latency } => {
            // The worker's answer-to-first-audio delay feeds the abandonment rate. Anything
            // but a number (or a number beyond a day) reads as not measured, never as a
            // failed event.
            sqlx::query!(
                "update calls set latency = $2,
                    first_agent_audio_ms = case
                        when jsonb_typeof($2::jsonb->'firstAudioMs') = 'number' then case
                            when ($2::jsonb->>'firstAudioMs')::float8 between 0 and 86400000
                            then ($2::jsonb->>'firstAudioMs')::float8::bigint end end
                 where id = $1",
                call,
                latency
            )
            .execute(&mut **tx)
            .await?;
        }
        EventKind::Usage {
            stt_requests,
            stt_errors,
            llm_requests,
            llm_errors,
            tts_requests,
            tts_errors,
            cost_cents,
            cost_breakdown,
        } => {
            // Workers report running totals, so the latest report replaces the last.
            for (kind, requests, errors) in [
                ("stt", stt_requests, stt_errors),
                ("llm", llm_requests, llm_errors),
                ("tts", tts_requests, tts_errors),
            ] {
                sqlx::query!(
                    "insert into provider_usage (call_id, org_id, kind, requests, errors)
                     values ($1, $2, $3, $4, $5)
                     on conflict (call_id, kind) do update set requests = $4, errors = $5",
                    call,
                    org,
                    kind,
                    requests,
                    errors
                )
                .execute(&mut **tx)
                .await?;
            }
            // Post-call analysis adds its own cost under `analysis` (integrations::
            // analysis), and the provider's status callback the call's minutes under
            // `telephony` (telephony_cost); a late worker total must wipe out neither.
            sqlx::query!(
                "update calls
                 set cost_cents = $2 + coalesce((cost_breakdown->>'analysis')::float8, 0)
                                     + coalesce((cost_breakdown->'telephony'->>'cents')::float8, 0),
                     cost_breakdown = $3::jsonb
                         || jsonb_strip_nulls(jsonb_build_object(
                                'analysis', cost_breakdown->'analysis',
                                'telephony', cost_breakdown->'telephony'))
                 where id = $1",
                call,
                cost_cents,
                cost_breakdown
            )
            .execute(&mut **tx)
            .await?;
        }
        EventKind::RecordingStored {
            location,
            format,
            channels,
            duration_sec,
            size_bytes,
        } => {
            sqlx::query!(
                "insert into recordings (id, call_id, org_id, location, format, channels, duration_sec, size_bytes)
                 values ($1, $2, $3, $4, $5, $6, $7, $8)",
                Uuid::now_v7(), call, org, location, format, channels, duration_sec, size_bytes
            )
            .execute(&mut **tx)
            .await?;
        }
        EventKind::HangUp { .. } => return Ok(Some(Action::HangUp)),
        EventKind::Transfer { to } => {
            let number = PhoneNumber::parse(to, None)
                .map_err(|err| ApiError::invalid("to", err.to_string()))?;
            return Ok(Some(Action::Transfer(number.to_string())));
        }
        EventKind::ScheduleCallback { at } => {
            let asked = DateTime::parse_from_rfc3339(at)
                .map_err(|err| ApiError::invalid("at", format!("not an RFC 3339 time: {err}")))?
                .with_timezone(&Utc);
            let at = callback_in_window(tx, call, asked.max(now)).await?;
            sqlx::query!(
                "update campaign_attempts set callback_at = $2 where last_call_id = $1",
                call,
                at
            )
            .execute(&mut **tx)
            .await?;
            sqlx::query!(
                "update calls set outcome = coalesce(outcome, 'callback') where id = $1",
                call
            )
            .execute(&mut **tx)
            .await?;
        }
        EventKind::AddToDnc { reason } => {
            add_to_dnc(
                tx,
                call,
                org,
                reason.as_deref().unwrap_or("added by the agent"),
            )
            .await?;
        }
        EventKind::SendSms { body } => return Ok(Some(Action::SendSms(body.clone()))),
        EventKind::Ended { reason } => {
            sqlx::query!(
                "update calls set end_reason = coalesce(end_reason, $2),
                                  ended_at = coalesce(ended_at, $3) where id = $1",
                call,
                reason,
                now
            )
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(None)
}

/// The asked callback time moved into the campaign's calling window (the callee's local
/// hours, every zone they may be in), so the appointment is kept at the first moment the
/// campaign may really call rather than found out of window at dial time. A call with no
/// campaign attempt (single or inbound calls) keeps the asked time: nothing redials it.
async fn callback_in_window(
    tx: &mut Tx<'_>,
    call: Uuid,
    asked: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    let row = sqlx::query!(
        "select k.calling_days, k.start_hour, k.end_hour, k.allow_outside_legal_hours,
                k.timezone, c.timezone as contact_zone, c.phone
         from campaign_attempts a
         join campaigns k on k.id = a.campaign_id
         join contacts c on c.id = a.contact_id
         where a.last_call_id = $1",
        call
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(asked);
    };
    let Ok(phone) = PhoneNumber::parse(&row.phone, None) else {
        return Ok(asked);
    };
    let window = CallingWindow::new(
        &row.calling_days,
        row.start_hour as u32,
        row.end_hour as u32,
        row.allow_outside_legal_hours,
    );
    let campaign_zone: chrono_tz::Tz = row.timezone.parse().unwrap_or(chrono_tz::UTC);
    let zones = callee_zones(row.contact_zone.as_deref(), &phone, campaign_zone);
    // A window that never opens keeps the asked time: the engine skips the attempt then,
    // with its decision, as for any contact it can never call.
    Ok(window.next_open(asked, &zones).unwrap_or(asked))
}

/// Puts the call's callee (the caller, on an inbound call) on the organization's DNC list
/// with the call as its source and, when the number is new there, writes a
/// `contact.opted_out` event for the customer's webhooks. It is in force as soon as the
/// events' transaction commits: the engine checks the list at dial time, so no campaign
/// of the organization dials the number again.
async fn add_to_dnc(tx: &mut Tx<'_>, call: Uuid, org: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "with added as (
             insert into dnc (org_id, phone, reason, source, source_call_id)
             select org_id, case when direction = 'inbound' then from_phone else to_phone end,
                    $3, 'call', id
              from calls where id = $1 and org_id = $2
             on conflict (org_id, phone) do nothing
             returning phone
         )
         select emit_org_event($2, 'contact.opted_out', c.id, c.campaign_id,
                    jsonb_build_object('callId', c.id, 'campaignId', c.campaign_id,
                                       'contactId', c.contact_id, 'phone', added.phone,
                                       'reason', $3::text))
         from added, calls c where c.id = $1",
        call,
        org,
        reason
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(())
}

/// Carries out an action on the live call through its dialer. Failures are logged: the
/// events are stored either way, and a worker ends its side of the call itself.
pub async fn carry_out(state: &AppState, call: Uuid, action: Action) {
    if let Err(err) = try_carry_out(state, call, &action).await {
        let action = match &action {
            Action::HangUp => "hang_up",
            Action::Transfer(_) => "transfer",
            Action::SendSms(_) => "send_sms",
        };
        let error = shared::phone::mask_numbers_in(&format!("{err:#}"));
        tracing::warn!(call_id = %call, action, %error, "call action failed");
    }
}

async fn try_carry_out(state: &AppState, call: Uuid, action: &Action) -> anyhow::Result<()> {
    if let Action::SendSms(body) = action {
        let sent = crate::sms::send::for_call(state, call, body).await?;
        tracing::info!(call_id = %call, message_id = %sent.id, status = %sent.status, "agent sent a text");
        return Ok(());
    }
    let live = state
        .engine
        .live_call(call)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the call has no provider id or no provider account"))?;
    let sid = &live.provider_call_id;
    match action {
        Action::HangUp => live.dialer.hang_up(&live.account, sid).await?,
        Action::Transfer(to) => live.dialer.transfer(&live.account, sid, to).await?,
        Action::SendSms(_) => {}
    }
    Ok(())
}
