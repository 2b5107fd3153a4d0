//! Post-call analysis: for a call whose assistant has an analysis plan, one request to the
//! OpenAI-compatible chat completions endpoint asks for a summary, structured data that
//! must satisfy the plan's JSON Schema, and a success evaluation. An answer that is not
//! that (bad JSON, data the schema refuses, a failed request) is asked for once more with
//! the reason; a second failure is recorded as `failed` with it. The tokens' price is
//! added to the call's cost.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::AnalysisSettings;
use crate::db::calls;

/// Requests per call: the first, and one retry after an invalid answer.
const MAX_REQUESTS: i32 = 2;

/// Runs analysis plans. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Analyst {
    db: PgPool,
    settings: AnalysisSettings,
    http: reqwest::Client,
}

/// What an assistant's plan asks for.
#[derive(Debug, Clone)]
pub struct Plan {
    pub summary: bool,
    pub schema: Option<Value>,
    pub success_criteria: Option<String>,
}

/// One analysis's result, as stored.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    failed: Option<String>,
    summary: Option<String>,
    structured_data: Option<Value>,
    success: Option<bool>,
    success_reason: Option<String>,
    requests: i32,
    cost_cents: f64,
}

impl Analyst {
    pub fn new(db: PgPool, settings: AnalysisSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.request_timeout_sec))
            .build()?;
        Ok(Self { db, settings, http })
    }

    /// Analyses the call if its assistant has a plan, the call has a transcript, and it
    /// was not analysed yet; stores the result and adds its cost to the call's.
    pub async fn analyze_if_planned(&self, call: Uuid) -> anyhow::Result<()> {
        let Some(row) = sqlx::query!(
            "select c.org_id, p.summary, p.structured_data_schema, p.success_criteria
             from calls c join assistant_analysis_plans p
               on p.assistant_id = c.assistant_id and p.org_id = c.org_id
             where c.id = $1 and not exists (select 1 from call_analyses a where a.call_id = c.id)",
            call
        )
        .fetch_optional(&self.db)
        .await?
        else {
            return Ok(());
        };
        let Some(base_url) = self.settings.base_url.as_deref() else {
            tracing::warn!(call_id = %call, "an analysis plan but no analysis.base_url: not analysed");
            return Ok(());
        };
        let transcript = calls::transcript(&self.db, row.org_id, call).await?;
        if transcript.is_empty() {
            // Nobody spoke (unanswered, or silent): nothing to analyse.
            return Ok(());
        }
        let lines: Vec<String> = transcript
            .iter()
            .map(|t| {
                let who = if t.speaker == "agent" {
                    "Agent"
                } else {
                    "Callee"
                };
                format!("{who}: {}", t.text)
            })
            .collect();
        let plan = Plan {
            summary: row.summary,
            schema: row.structured_data_schema,
            success_criteria: row.success_criteria,
        };
        let outcome = self.run(base_url, &plan, &lines.join("\n")).await;
        let mut tx = self.db.begin().await?;
        let inserted =
            sqlx::query!(
            "insert into call_analyses (call_id, org_id, status, summary, structured_data, success,
                                        success_reason, error, requests, cost_cents)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             on conflict (call_id) do nothing",
            call,
            row.org_id,
            if outcome.failed.is_some() { "failed" } else { "completed" },
            outcome.summary,
            outcome.structured_data,
            outcome.success,
            outcome.success_reason,
            outcome.failed,
            outcome.requests,
            outcome.cost_cents
        )
            .execute(&mut *tx)
            .await?;
        if inserted.rows_affected() == 1 {
            // Workers report their cost as running totals that replace the call's; the
            // `analysis` entry is kept apart so such a report keeps it (effects.rs).
            sqlx::query!(
                "update calls set cost_cents = cost_cents + $2,
                                  cost_breakdown = cost_breakdown || jsonb_build_object('analysis', $2::float8)
                 where id = $1",
                call,
                outcome.cost_cents
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn run(&self, base_url: &str, plan: &Plan, transcript: &str) -> Outcome {
        let mut outcome = Outcome::default();
        let mut messages = vec![
            json!({"role": "system", "content": instructions(plan)}),
            json!({"role": "user", "content": format!("The call's transcript:\n{transcript}")}),
        ];
        let mut last_error = String::new();
        while outcome.requests < MAX_REQUESTS {
            outcome.requests += 1;
            let answer = match self.ask(base_url, &messages).await {
                Ok((content, cost)) => {
                    outcome.cost_cents += cost;
                    content
                }
                Err(err) => {
                    last_error = err;
                    continue;
                }
            };
            match read_answer(plan, &answer) {
                (read, None) => {
                    return Outcome {
                        requests: outcome.requests,
                        cost_cents: outcome.cost_cents,
                        ..read
                    }
                }
                (partial, Some(error)) => {
                    // What could be read is kept if the retry fails too.
                    outcome.summary = partial.summary.or(outcome.summary);
                    outcome.success = partial.success.or(outcome.success);
                    outcome.success_reason = partial.success_reason.or(outcome.success_reason);
                    messages.push(json!({"role": "assistant", "content": answer}));
                    messages.push(json!({"role": "user", "content": format!(
                        "That answer is invalid: {error}. Answer again with one JSON object as asked."
                    )}));
                    last_error = error;
                }
            }
        }
        outcome.failed = Some(last_error);
        outcome
    }

    /// One chat completion: its content and its price in cents.
    async fn ask(&self, base_url: &str, messages: &[Value]) -> Result<(String, f64), String> {
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        let mut request = self.http.post(&url).json(&json!({
            "model": self.settings.model,
            "messages": messages,
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }));
        if let Some(key) = self
            .settings
            .api_key
            .as_ref()
            .map(SecretString::expose_secret)
        {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|err| format!("the analysis request failed: {err}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the LLM answered {status}"));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|err| format!("the LLM's answer is not JSON: {err}"))?;
        let usage = &body["usage"];
        let cost = usage["prompt_tokens"].as_f64().unwrap_or(0.0)
            * self.settings.prompt_cents_per_million
            / 1e6
            + usage["completion_tokens"].as_f64().unwrap_or(0.0)
                * self.settings.completion_cents_per_million
                / 1e6;
        let content = body["choices"][0]["message"]["content"]
            .as_str()
            .ok_or("the LLM's answer has no message content")?;
        Ok((content.to_string(), cost))
    }
}

/// A call's analysis as the API and the end-of-call report show it, if it ran.
pub async fn view<'e>(
    db: impl sqlx::PgExecutor<'e>,
    org_id: Uuid,
    call: Uuid,
) -> sqlx::Result<Option<Value>> {
    let row = sqlx::query!(
        "select status, summary, structured_data, success, success_reason, error, requests, cost_cents
         from call_analyses where org_id = $1 and call_id = $2",
        org_id,
        call
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|a| {
        json!({
            "status": a.status,
            "summary": a.summary,
            "structuredData": a.structured_data,
            "successEvaluation": a.success.map(|success| json!({"success": success, "reason": a.success_reason})),
            "error": a.error,
            "requests": a.requests,
            "costCents": a.cost_cents,
        })
    }))
}

/// The system prompt: what to return, as one JSON object.
fn instructions(plan: &Plan) -> String {
    let mut keys = Vec::new();
    if plan.summary {
        keys.push("\"summary\": two or three sentences on what happened in the call".to_string());
    }
    if let Some(schema) = &plan.schema {
        keys.push(format!(
            "\"structuredData\": an object that satisfies this JSON Schema: {schema}"
        ));
    }
    if let Some(criteria) = &plan.success_criteria {
        keys.push(format!(
            "\"successEvaluation\": {{\"success\": true or false, \"reason\": one sentence}}, judged by: {criteria}"
        ));
    }
    format!(
        "You are a post-call analyst. Read the phone call's transcript and answer with one JSON \
         object only, with these keys:\n- {}",
        keys.join("\n- ")
    )
}

/// Reads an answer against the plan: what could be read, and why it fails if it does.
fn read_answer(plan: &Plan, answer: &str) -> (Outcome, Option<String>) {
    let value: Value = match serde_json::from_str(answer.trim()) {
        Ok(value) => value,
        Err(err) => {
            return (
                Outcome::default(),
                Some(format!("not a JSON object ({err})")),
            )
        }
    };
    let mut read = Outcome::default();
    let mut problems = Vec::new();
    if plan.summary {
        match value["summary"].as_str() {
            Some(summary) => read.summary = Some(summary.to_string()),
            None => problems.push("\"summary\" is not a string".to_string()),
        }
    }
    if plan.success_criteria.is_some() {
        let evaluation = &value["successEvaluation"];
        match evaluation["success"].as_bool() {
            Some(success) => {
                read.success = Some(success);
                read.success_reason = evaluation["reason"].as_str().map(str::to_string);
            }
            None => problems.push("\"successEvaluation.success\" is not a boolean".to_string()),
        }
    }
    if let Some(schema) = &plan.schema {
        let data = value.get("structuredData").cloned().unwrap_or(Value::Null);
        match schema_errors(schema, &data) {
            None => read.structured_data = Some(data),
            Some(errors) => problems.push(format!("\"structuredData\" {errors}")),
        }
    }
    let problems = (!problems.is_empty()).then(|| problems.join("; "));
    (read, problems)
}

/// Why `data` does not satisfy `schema`, or `None` when it does.
pub fn schema_errors(schema: &Value, data: &Value) -> Option<String> {
    let validator = match jsonschema::validator_for(schema) {
        Ok(validator) => validator,
        Err(err) => return Some(format!("cannot be checked: the schema is invalid ({err})")),
    };
    let errors: Vec<String> = validator
        .iter_errors(data)
        .take(5)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{e} at {at}")
            }
        })
        .collect();
    (!errors.is_empty()).then(|| format!("does not satisfy the schema: {}", errors.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            summary: true,
            schema: Some(json!({
                "type": "object",
                "required": ["interested", "budget"],
                "properties": {"interested": {"type": "boolean"}, "budget": {"type": "integer"}}
            })),
            success_criteria: Some("the callee agreed to a demo".into()),
        }
    }

    #[test]
    fn a_valid_answer_is_read_whole() {
        let read = read_answer(
            &plan(),
            r#"{"summary":"Fine.","structuredData":{"interested":true,"budget":5},
                "successEvaluation":{"success":true,"reason":"agreed"}}"#,
        );
        assert_eq!(read.1, None);
        let read = read.0;
        assert_eq!(read.summary.as_deref(), Some("Fine."));
        assert_eq!(
            read.structured_data,
            Some(json!({"interested": true, "budget": 5}))
        );
        assert_eq!(read.success, Some(true));
    }

    #[test]
    fn data_the_schema_refuses_is_an_error_that_keeps_the_rest() {
        let (partial, error) = read_answer(
            &plan(),
            r#"{"summary":"Fine.","structuredData":{"interested":"yes"},
                "successEvaluation":{"success":false}}"#,
        );
        let error = error.unwrap();
        assert!(error.contains("structuredData"), "{error}");
        assert!(error.contains("budget"), "{error}");
        assert_eq!(partial.summary.as_deref(), Some("Fine."));
        assert_eq!(partial.success, Some(false));
        assert!(read_answer(&plan(), "not json").1.is_some());
    }

    #[test]
    fn the_prompt_names_only_what_the_plan_asks() {
        let only_summary = Plan {
            summary: true,
            schema: None,
            success_criteria: None,
        };
        let text = instructions(&only_summary);
        assert!(text.contains("\"summary\"") && !text.contains("structuredData"));
        assert!(instructions(&plan()).contains("\"budget\""));
    }
}
