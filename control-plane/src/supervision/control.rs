//! `POST /api/v1/calls/{id}/control`: say, whisper, end, transfer or hand back, checked
//! here, forwarded to the call's worker and audited either way.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shared::supervision::Control;
use shared::PhoneNumber;
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit;
use super::worker::{self, CallWorker};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Validator};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;

/// The longest line a supervisor may have the agent say or whisper.
const MAX_TEXT: usize = 2_000;

/// A control. `action` is `say` (with `text`), `whisper` (with `text`), `end`,
/// `transfer` (with `to`, E.164) or `handBack`; `takeOver` is sent on the listen stream,
/// whose audio then reaches the callee.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ControlRequest {
    pub action: String,
    pub text: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ControlAccepted {
    /// The action as audited (`say`, `whisper`, `end`, `transfer`, `hand_back`).
    pub action: String,
    pub ok: bool,
}

/// Parses a request into a control, or a 422 naming the fields.
pub(super) fn parse(request: &ControlRequest) -> Result<Control, ApiError> {
    let mut v = Validator::new();
    let text = |v: &mut Validator| -> String {
        let text = request.text.clone().unwrap_or_default();
        v.check(
            !text.trim().is_empty() && text.chars().count() <= MAX_TEXT,
            "text",
            format!("must be 1 to {MAX_TEXT} characters"),
        );
        text
    };
    let control = match request.action.as_str() {
        "say" => Control::Say { text: text(&mut v) },
        "whisper" => Control::Whisper { text: text(&mut v) },
        "end" => Control::End,
        "handBack" => Control::HandBack,
        "takeOver" => Control::TakeOver,
        "transfer" => match PhoneNumber::parse(request.to.as_deref().unwrap_or_default(), None) {
            Ok(to) => Control::Transfer { to: to.to_string() },
            Err(_) => {
                v.push("to", "must be a phone number in E.164 form");
                Control::End
            }
        },
        _ => {
            v.push(
                "action",
                "must be say, whisper, end, transfer, takeOver or handBack",
            );
            Control::End
        }
    };
    v.finish()?;
    Ok(control)
}

/// What the audit keeps of a control besides its name.
pub(super) fn detail(control: &Control) -> Value {
    match control {
        Control::Say { text } | Control::Whisper { text } => json!({ "text": text }),
        Control::Transfer { to } => json!({ "to": to }),
        _ => json!({}),
    }
}

/// Sends a control to the worker; the error is the worker's (or why it was not reached).
pub(super) async fn forward(worker: &CallWorker, control: &Control) -> Result<(), String> {
    let response = worker::http()
        .post(worker.url("control"))
        .bearer_auth(&worker.token)
        .json(control)
        .send()
        .await
        .map_err(|e| format!("the call's worker was not reached: {e}"))?;
    if response.status().is_success() {
        return Ok(());
    }
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    Err(body["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("the worker answered {status}")))
}

/// Carries out a control on the call's worker and audits it.
pub(super) async fn act(
    state: &AppState,
    caller: &Caller,
    call: Uuid,
    control: &Control,
) -> Result<(), ApiError> {
    let result = match worker::locate(state, caller, call).await {
        Ok(worker) => forward(&worker, control).await,
        Err(ApiError::NotFound(what)) => return Err(ApiError::NotFound(what)),
        Err(error) => Err(error.to_string()),
    };
    audit::record(
        state,
        caller,
        call,
        control.name(),
        detail(control),
        &result,
    )
    .await?;
    result.map_err(ApiError::Conflict)
}

/// Steps into a live call. Every attempt is audited on the call, failed ones too.
#[utoipa::path(post, path = "/api/v1/calls/{id}/control", tag = "supervision",
    params(("id" = Uuid, Path)), request_body = ControlRequest,
    responses((status = 200, body = ControlAccepted), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the call is not live, its worker \
            refused (say while taken over, take over without the listen stream) or was not reached"),
        (status = 422, body = ErrorBody)))]
pub(super) async fn control(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<ControlRequest>,
) -> Result<ApiJson<ControlAccepted>, ApiError> {
    // 404 before 422: another organization learns nothing about the call.
    worker::ensure_call(&state, &caller, id).await?;
    let control = parse(&request)?;
    if control == Control::TakeOver {
        return Err(ApiError::Conflict(
            "take over on the listen stream (GET /api/v1/calls/{id}/listen): \
             the supervisor's audio comes from it"
                .into(),
        ));
    }
    act(&state, &caller, id, &control).await?;
    Ok(ApiJson(ControlAccepted {
        action: control.name().into(),
        ok: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(action: &str, text: Option<&str>, to: Option<&str>) -> ControlRequest {
        ControlRequest {
            action: action.into(),
            text: text.map(Into::into),
            to: to.map(Into::into),
        }
    }

    #[test]
    fn controls_are_parsed_at_the_edge() {
        assert_eq!(
            parse(&request("say", Some("hello"), None)).unwrap(),
            Control::Say {
                text: "hello".into()
            }
        );
        assert_eq!(
            parse(&request("transfer", None, Some("+1 212 300 0001"))).unwrap(),
            Control::Transfer {
                to: "+12123000001".into()
            }
        );
        assert_eq!(
            parse(&request("handBack", None, None)).unwrap(),
            Control::HandBack
        );
        let long = "x".repeat(MAX_TEXT + 1);
        for bad in [
            request("say", None, None),
            request("whisper", Some(" \n "), None),
            request("whisper", Some(&long), None),
            request("transfer", None, Some("not a number")),
            request("shout", None, None),
        ] {
            assert!(
                matches!(parse(&bad), Err(ApiError::Validation(_))),
                "{bad:?}"
            );
        }
    }
}
