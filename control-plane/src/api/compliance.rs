//! Compliance routes: the organization's compliance settings and the state rules the
//! engine applies (`/api/v1/compliance`), and a contact's dial history
//! (`/api/v1/contacts/{id}/history`, JSON or CSV).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::compliance::state_rules;
use crate::db::compliance::{self as db, HistoryRow};
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_compliance, update_compliance))
        .routes(routes!(contact_history))
}

/// A state rule as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateRuleView {
    pub state: String,
    pub name: String,
    pub start_hour: u32,
    pub end_hour: u32,
    pub max_calls_per24h: Option<u32>,
    pub source: String,
    pub url: String,
}

/// The organization's compliance settings and what the platform enforces.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceView {
    /// Assistants may be saved whose first message does not disclose who is calling and
    /// that the call is automated (default false).
    pub allow_undisclosed_assistants: bool,
    /// State rules applied by the callee's area code, with their legal source.
    pub state_rules: Vec<StateRuleView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceInput {
    pub allow_undisclosed_assistants: bool,
}

async fn view(state: &AppState, org_id: Uuid) -> Result<ComplianceView, ApiError> {
    Ok(ComplianceView {
        allow_undisclosed_assistants: db::allows_undisclosed_assistants(&state.db, org_id).await?,
        state_rules: state_rules::all()
            .iter()
            .map(|r| StateRuleView {
                state: r.state.clone(),
                name: r.name.clone(),
                start_hour: r.start_hour,
                end_hour: r.end_hour,
                max_calls_per24h: r.max_calls_per24h,
                source: r.source.clone(),
                url: r.url.clone(),
            })
            .collect(),
    })
}

/// The organization's compliance settings and the state rules in force.
#[utoipa::path(get, path = "/api/v1/compliance", tag = "compliance",
    responses((status = 200, body = ComplianceView)))]
async fn get_compliance(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<ApiJson<ComplianceView>, ApiError> {
    Ok(ApiJson(view(&state, caller.org_id).await?))
}

/// Changes the organization's compliance settings.
#[utoipa::path(put, path = "/api/v1/compliance", tag = "compliance",
    request_body = ComplianceInput,
    responses((status = 200, body = ComplianceView), (status = 422, body = ErrorBody)))]
async fn update_compliance(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ComplianceInput>,
) -> Result<ApiJson<ComplianceView>, ApiError> {
    db::set_allow_undisclosed_assistants(
        &state.db,
        caller.org_id,
        body.allow_undisclosed_assistants,
    )
    .await?;
    tracing::info!(
        org_id = %caller.org_id,
        allow_undisclosed_assistants = body.allow_undisclosed_assistants,
        "compliance settings changed"
    );
    Ok(ApiJson(view(&state, caller.org_id).await?))
}

/// One decision of the engine about one of the contact's attempts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub campaign_id: Uuid,
    pub campaign_name: String,
    pub attempt_id: Uuid,
    /// `dialed`, `deferred_window`, `skipped_dnc`, `skipped_no_consent`,
    /// `deferred_state_hours`, `deferred_state_frequency`, ...
    pub decision: String,
    pub detail: Option<String>,
}

impl From<HistoryRow> for HistoryEntry {
    fn from(row: HistoryRow) -> Self {
        Self {
            at: row.decided_at,
            campaign_id: row.campaign_id,
            campaign_name: row.campaign_name,
            attempt_id: row.attempt_id,
            decision: row.decision,
            detail: row.detail,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Page number, from 1 (JSON only).
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (JSON only).
    pub per_page: Option<i64>,
    /// `json` (default) or `csv` (the whole history as a file).
    pub format: Option<HistoryFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HistoryFormat {
    Json,
    Csv,
}

/// Most lines a CSV export holds; a contact's history is far shorter in practice.
const MAX_CSV_LINES: i64 = 100_000;

/// Every dial decision and refusal for a contact, in the order they were made.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/history", tag = "contacts",
    params(("id" = Uuid, Path), HistoryQuery),
    responses((status = 200, body = Page<HistoryEntry>),
        (status = 200, content_type = "text/csv", body = String, description = "With format=csv"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn contact_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    if !db::contact_exists(&state.db, caller.org_id, id).await? {
        return Err(ApiError::NotFound("contact"));
    }
    if query.format == Some(HistoryFormat::Csv) {
        let (rows, _) = db::contact_history(&state.db, caller.org_id, id, MAX_CSV_LINES, 0).await?;
        let disposition = format!("attachment; filename=\"contact-{id}-history.csv\"");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            history_csv(&rows),
        )
            .into_response());
    }
    let page = PageQuery {
        page: query.page,
        per_page: query.per_page,
    };
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = db::contact_history(&state.db, caller.org_id, id, limit, offset).await?;
    let entries = rows.into_iter().map(HistoryEntry::from).collect();
    Ok(ApiJson(Page::new(entries, total, page)?).into_response())
}

/// The history as CSV: a header, then one line per decision.
fn history_csv(rows: &[HistoryRow]) -> String {
    let mut out = String::from("at,campaign_id,campaign_name,attempt_id,decision,detail\n");
    for row in rows {
        let cells = [
            row.decided_at.to_rfc3339(),
            row.campaign_id.to_string(),
            row.campaign_name.clone(),
            row.attempt_id.to_string(),
            row.decision.clone(),
            row.detail.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// One quoted cell. Text that a spreadsheet would run as a formula gets a leading `'`.
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
    }
}
