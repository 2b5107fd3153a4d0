//! `/api/v1/assistants/{id}/analysis-plan`: what is worked out from each of an
//! assistant's calls once it ends (see `integrations::analysis`): set, read, remove.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Validator};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_plan, get_plan, delete_plan))
}

/// An assistant's analysis plan.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisPlan {
    /// Ask for a summary of the call (default true).
    pub summary: Option<bool>,
    /// A JSON Schema the call's structured data must satisfy.
    #[schema(value_type = Option<Object>)]
    pub structured_data_schema: Option<Value>,
    /// What success means for these calls, for the success evaluation.
    pub success_criteria: Option<String>,
}

/// Sets (or replaces) the plan; it applies to calls that end from now on.
#[utoipa::path(put, path = "/api/v1/assistants/{id}/analysis-plan", tag = "assistants",
    params(("id" = Uuid, Path)), request_body = AnalysisPlan,
    responses((status = 200, body = AnalysisPlan), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn put_plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AnalysisPlan>,
) -> Result<ApiJson<AnalysisPlan>, ApiError> {
    let summary = body.summary.unwrap_or(true);
    let mut v = Validator::new();
    if let Some(schema) = &body.structured_data_schema {
        v.check(
            schema.is_object(),
            "structuredDataSchema",
            "must be a JSON Schema object",
        );
        if schema.is_object() {
            if let Err(err) = jsonschema::meta::validate(schema) {
                v.push(
                    "structuredDataSchema",
                    format!("is not a valid JSON Schema: {err}"),
                );
            } else if let Err(err) = jsonschema::validator_for(schema) {
                v.push("structuredDataSchema", format!("cannot be used: {err}"));
            }
        }
        v.check(
            schema.to_string().len() <= 16_384,
            "structuredDataSchema",
            "must be at most 16 KiB",
        );
    }
    if let Some(criteria) = &body.success_criteria {
        v.check(
            !criteria.trim().is_empty() && criteria.len() <= 2000,
            "successCriteria",
            "must be 1 to 2000 characters",
        );
    }
    v.check(
        summary || body.structured_data_schema.is_some() || body.success_criteria.is_some(),
        "summary",
        "a plan must ask for something",
    );
    v.finish()?;
    let assistant = sqlx::query_scalar!(
        "select id from assistants where id = $1 and org_id = $2",
        id,
        caller.org_id
    )
    .fetch_optional(&state.db)
    .await?;
    assistant.ok_or(ApiError::NotFound("assistant"))?;
    sqlx::query!(
        "insert into assistant_analysis_plans (assistant_id, org_id, summary, structured_data_schema, success_criteria)
         values ($1, $2, $3, $4, $5)
         on conflict (assistant_id) do update
         set summary = $3, structured_data_schema = $4, success_criteria = $5",
        id,
        caller.org_id,
        summary,
        body.structured_data_schema,
        body.success_criteria
    )
    .execute(&state.db)
    .await?;
    Ok(ApiJson(AnalysisPlan {
        summary: Some(summary),
        ..body
    }))
}

#[utoipa::path(get, path = "/api/v1/assistants/{id}/analysis-plan", tag = "assistants",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AnalysisPlan),
        (status = 404, body = ErrorBody, description = "No such assistant, or it has no plan")))]
async fn get_plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<AnalysisPlan>, ApiError> {
    let row = sqlx::query!(
        "select summary, structured_data_schema, success_criteria from assistant_analysis_plans
         where assistant_id = $1 and org_id = $2",
        id,
        caller.org_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(ApiError::NotFound("analysis plan"))?;
    Ok(ApiJson(AnalysisPlan {
        summary: Some(row.summary),
        structured_data_schema: row.structured_data_schema,
        success_criteria: row.success_criteria,
    }))
}

/// Removes the plan: calls that end from now on are not analysed.
#[utoipa::path(delete, path = "/api/v1/assistants/{id}/analysis-plan", tag = "assistants",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let done = sqlx::query!(
        "delete from assistant_analysis_plans where assistant_id = $1 and org_id = $2",
        id,
        caller.org_id
    )
    .execute(&state.db)
    .await?;
    if done.rows_affected() == 1 {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("analysis plan"))
    }
}
