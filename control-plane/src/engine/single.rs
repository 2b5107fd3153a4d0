//! Placing one call outside a campaign (`POST /api/v1/calls`): the call row exists, the
//! trunk's rate limit is respected, then the dialer is asked. Failures end the call with
//! a reason; nothing is retried behind the operator's back.

use std::time::Duration as StdDuration;

use shared::PhoneNumber;
use uuid::Uuid;

use super::{outcome, rate, Engine};
use crate::dialer::{DialError, DialRequest};

impl Engine {
    /// Dials the queued call `call_id`. Meant to run in its own task.
    pub async fn place_single_call(&self, call_id: Uuid) {
        if let Err(err) = self.try_place_single_call(call_id).await {
            tracing::error!(call_id = %call_id, error = ?err, "single call failed");
        }
    }

    async fn try_place_single_call(&self, call_id: Uuid) -> anyhow::Result<()> {
        let engine = &self.inner;
        let row = sqlx::query!(
            r#"select c.org_id, c.to_phone, c.from_phone, c.mode, c.trunk_id as "trunk_id!",
                      t.calls_per_second, t.account_sid, t.auth_token_enc, t.livekit_trunk_id,
                      coalesce((a.definition->>'maxDurationSec')::int, 600) as "max_duration_sec!",
                      camp.amd_enabled as "amd_enabled?", camp.amd_timeout_sec as "amd_timeout_sec?"
               from calls c
               join trunks t on t.id = c.trunk_id
               left join assistants a on a.id = c.assistant_id
               left join campaigns camp on camp.id = c.campaign_id
               where c.id = $1 and c.status = 'queued'"#,
            call_id
        )
        .fetch_optional(&engine.db)
        .await?;
        let Some(row) = row else {
            return Ok(());
        };
        // Wait for the trunk's next free slot rather than refusing the operator's call.
        let key = format!("trunk:{}", row.trunk_id);
        loop {
            let now = engine.clock.now();
            let interval = rate::per_second(row.calls_per_second);
            let at = match rate::reserve(&engine.db, &key, interval, now).await? {
                Ok(slot) => {
                    if let Ok(wait) = (slot - now).to_std() {
                        tokio::time::sleep(wait).await;
                    }
                    break;
                }
                Err(at) => at,
            };
            let wait = (at - now).to_std().unwrap_or(StdDuration::from_millis(50));
            tokio::time::sleep(wait.min(StdDuration::from_secs(5))).await;
        }
        let now = engine.clock.now();
        let dialer = engine.dialers.get(row.mode.as_str()).cloned();
        let with_account = dialer.and_then(|dialer| {
            let account = engine.account_of(
                dialer.as_ref(),
                row.account_sid.as_deref(),
                row.auth_token_enc.as_deref(),
            )?;
            Some((dialer, account))
        });
        let Some((dialer, account)) = with_account else {
            outcome::fail_call(&engine.db, call_id, "not_configured", now).await?;
            return Ok(());
        };
        let to = PhoneNumber::parse(&row.to_phone, None)?;
        let request = DialRequest {
            call_id,
            to,
            from: row.from_phone.unwrap_or_default(),
            token: engine.call_token(call_id, row.org_id, now, row.max_duration_sec),
            account,
            amd_timeout_sec: row
                .amd_enabled
                .unwrap_or(false)
                .then(|| row.amd_timeout_sec.unwrap_or(30) as u32),
            ring_timeout_sec: engine.settings.ring_timeout_sec,
            time_limit_sec: row.max_duration_sec as u32,
            livekit_trunk_id: row.livekit_trunk_id,
        };
        match dialer.dial(&request).await {
            Ok(placed) => {
                if dialer.waits_for_answer() {
                    let update = outcome::answered(&placed.provider_call_id, engine.clock.now());
                    outcome::apply_call_status(&engine.db, call_id, &update).await?;
                }
                outcome::store_provider_ids(
                    &engine.db,
                    &[(call_id, placed.provider_call_id.clone())],
                )
                .await?
            }
            Err(DialError::Unknown(reason)) => {
                tracing::warn!(call_id = %call_id, %reason, "dial outcome unknown; left for reconciliation");
            }
            Err(DialError::Ended { result, detail }) => {
                let now = engine.clock.now();
                outcome::end_unanswered(&engine.db, call_id, result, &detail, now).await?;
            }
            Err(err) => {
                outcome::fail_call(&engine.db, call_id, &err.to_string(), now).await?;
            }
        }
        Ok(())
    }
}
