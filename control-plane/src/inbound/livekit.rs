//! LiveKit's side of a number on a `livekit_sip` trunk: an inbound trunk that accepts
//! calls to the number (`CreateSIPInboundTrunk`) and a dispatch rule that puts each caller
//! in an `inbound-` room of its own (`CreateSIPDispatchRule`). The rule dispatches no
//! agent: the agent's job must name a call and carry its token, which exist only once
//! `livekit_answer.rs` has recorded the call (on the caller's `participant_joined`). The
//! remote side changes first; a failure removes what was made and the number row with
//! it, so no row names a LiveKit object that does not exist.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::db::numbers::NumberRow;
use crate::error::ApiError;
use crate::provisioning::livekit::LiveKitSip;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct Trunk {
    #[serde(alias = "sipTrunkId")]
    sip_trunk_id: String,
}

#[derive(Debug, Deserialize)]
struct Rule {
    #[serde(alias = "sipDispatchRuleId")]
    sip_dispatch_rule_id: String,
}

/// Creates the inbound trunk and dispatch rule for `row` when a LiveKit project is set.
pub async fn provision(state: &AppState, row: NumberRow) -> Result<NumberRow, ApiError> {
    let Some(livekit) = &state.provisioner.livekit else {
        tracing::warn!(number_id = %row.id, "no LiveKit project is configured: the number gets no inbound trunk");
        return Ok(row);
    };
    match create(livekit, &row).await {
        Ok((trunk, rule)) => {
            let stored = sqlx::query!(
                "update phone_numbers set livekit_inbound_trunk_id = $2, livekit_dispatch_rule_id = $3
                 where id = $1",
                row.id,
                trunk,
                rule
            )
            .execute(&state.db)
            .await;
            if let Err(err) = stored {
                remove(livekit, Some(&trunk), Some(&rule)).await;
                forget(state, &row).await;
                return Err(err.into());
            }
            Ok(NumberRow {
                livekit_inbound_trunk_id: Some(trunk),
                livekit_dispatch_rule_id: Some(rule),
                ..row
            })
        }
        Err(err) => {
            forget(state, &row).await;
            Err(err.into())
        }
    }
}

async fn forget(state: &AppState, row: &NumberRow) {
    if let Err(err) = crate::db::numbers::delete(&state.db, row.org_id, row.id).await {
        tracing::error!(number_id = %row.id, "could not remove a number LiveKit refused: {err}");
    }
}

async fn create(
    livekit: &LiveKitSip,
    row: &NumberRow,
) -> Result<(String, String), crate::provisioning::livekit::LiveKitError> {
    let trunk: Trunk = livekit
        .call(
            "CreateSIPInboundTrunk",
            json!({"trunk": {"name": format!("inbound {}", row.id), "numbers": [row.number],
                             "metadata": json!({"numberId": row.id}).to_string()}}),
        )
        .await?;
    let rule = livekit
        .call::<Rule>(
            "CreateSIPDispatchRule",
            json!({"dispatch_rule": {
                "name": format!("inbound {}", row.id),
                "trunk_ids": [trunk.sip_trunk_id],
                "rule": {"dispatch_rule_individual": {"room_prefix": "inbound-"}},
                "metadata": json!({"numberId": row.id}).to_string(),
            }}),
        )
        .await;
    match rule {
        Ok(rule) => Ok((trunk.sip_trunk_id, rule.sip_dispatch_rule_id)),
        Err(err) => {
            remove(livekit, Some(&trunk.sip_trunk_id), None).await;
            Err(err)
        }
    }
}

/// Removes the dispatch rule and trunk; failures are logged (the number goes either way).
async fn remove(livekit: &LiveKitSip, trunk: Option<&str>, rule: Option<&str>) {
    if let Some(rule) = rule {
        let done = livekit
            .call::<Value>(
                "DeleteSIPDispatchRule",
                json!({"sip_dispatch_rule_id": rule}),
            )
            .await;
        if let Err(err) = done {
            tracing::error!(rule, "could not remove a LiveKit dispatch rule: {err}");
        }
    }
    if let Some(trunk) = trunk {
        if let Err(err) = livekit.delete_trunk(trunk).await {
            tracing::error!(trunk, "could not remove a LiveKit inbound trunk: {err}");
        }
    }
}

/// Removes the number's LiveKit side, if it has one.
pub async fn deprovision(state: &AppState, row: &NumberRow) {
    if let Some(livekit) = &state.provisioner.livekit {
        remove(
            livekit,
            row.livekit_inbound_trunk_id.as_deref(),
            row.livekit_dispatch_rule_id.as_deref(),
        )
        .await;
    }
}
