//! `GET /internal/v1/calls/{id}/job`: the `CallJob` a worker runs.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;
use shared::job::{CallJob, CallLimits, CallMode};
use sqlx::types::Json;
use uuid::Uuid;

use super::auth::call_token;
use crate::domain::assistant::AssistantDefinition;
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;

/// The job for one call (authenticated by the call's token).
#[utoipa::path(get, path = "/internal/v1/calls/{id}/job", tag = "internal",
    params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = CallJob), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn get_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<CallJob>, ApiError> {
    let claims = call_token(&state, &headers, id)?;
    let job = build_job(&state, id, claims.org)
        .await?
        .ok_or(ApiError::NotFound("call"))?;
    Ok(ApiJson(job))
}

/// Assembles the job: the assistant at the version the call records, the campaign's
/// prompt override, and every placeholder filled from the call's variables.
pub async fn build_job(
    state: &AppState,
    call: Uuid,
    org: Uuid,
) -> Result<Option<CallJob>, ApiError> {
    let row = sqlx::query!(
        r#"select c.id, c.org_id, c.campaign_id, c.mode, c.to_phone, c.from_phone,
                  c.assistant_id, c.assistant_version, c.variables,
                  v.definition as "definition?: Json<AssistantDefinition>",
                  camp.campaign_prompt as "campaign_prompt?", camp.variables as "campaign_variables?",
                  camp.budget_per_call_cents as "budget_per_call_cents?"
           from calls c
           left join assistant_versions v
                  on v.assistant_id = c.assistant_id and v.version = c.assistant_version
           left join campaigns camp on camp.id = c.campaign_id
           where c.id = $1 and c.org_id = $2"#,
        call,
        org
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let Some(Json(assistant)) = row.definition else {
        return Err(ApiError::Conflict("the call has no assistant".into()));
    };
    let mut variables = BTreeMap::new();
    for source in [row.campaign_variables.as_ref(), Some(&row.variables)]
        .into_iter()
        .flatten()
    {
        if let Some(map) = source.as_object() {
            for (key, value) in map {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                variables.insert(key.clone(), text);
            }
        }
    }
    let render = |text: &str| {
        shared::template::render(text, |name| variables.get(name).cloned())
            .unwrap_or_else(|_| text.to_string())
    };
    let prompt = row
        .campaign_prompt
        .filter(|p| !p.trim().is_empty())
        .unwrap_or(assistant.system_prompt.clone());
    let mode = if row.mode == "livekit_sip" {
        CallMode::LivekitSip
    } else {
        CallMode::TwilioStream
    };
    Ok(Some(CallJob {
        call_id: row.id,
        org_id: row.org_id,
        campaign_id: row.campaign_id,
        mode,
        to: row.to_phone,
        from: row.from_phone,
        assistant_id: row.assistant_id,
        assistant_version: row.assistant_version,
        language: assistant.language.clone(),
        system_prompt: render(&prompt),
        first_message: assistant.first_message.as_deref().map(render),
        voicemail_message: assistant.voicemail_message.as_deref().map(render),
        llm: assistant.llm.clone(),
        stt: assistant.stt.clone(),
        tts: assistant.tts.clone(),
        tools: shared::assistant::ToolsConfig {
            sms_message: assistant.tools.sms_message.as_deref().map(render),
            ..assistant.tools.clone()
        },
        limits: CallLimits {
            max_duration_sec: assistant.max_duration_sec,
            budget_cents: row.budget_per_call_cents,
        },
        events_url: format!(
            "{}/internal/v1/calls/{}/events",
            state.settings.server.public_url.trim_end_matches('/'),
            row.id
        ),
        variables,
    }))
}
