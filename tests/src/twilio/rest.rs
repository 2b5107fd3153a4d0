//! Twilio's REST Calls API: create, fetch, update (hang up, redirect).

use super::call::{self, twilio_time, CallParams, Interrupts};
use super::error::TwilioError;
use super::report::CallReport;
use super::script::Pickup;
use super::store::{CallEntry, Control, Shared, Source};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, Duration, Instant};

type Reply = Result<(StatusCode, Json<Value>), TwilioError>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Calls.json",
            post(create).get(list),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{file}",
            get(fetch).post(update),
        )
}

/// HTTP Basic with the account SID and auth token, and the SID in the path.
pub(crate) fn authorize(
    shared: &Shared,
    account: &str,
    headers: &HeaderMap,
) -> Result<(), TwilioError> {
    if shared.lock().faults.reject_credentials {
        return Err(TwilioError::authenticate());
    }
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or_else(TwilioError::authenticate)?;
    let (sid, token) = credentials
        .split_once(':')
        .ok_or_else(TwilioError::authenticate)?;
    let config = &shared.config;
    if sid != config.account_sid || token != config.auth_token || account != config.account_sid {
        return Err(TwilioError::authenticate());
    }
    Ok(())
}

pub(crate) fn form(body: &Bytes) -> Result<Vec<(String, String)>, TwilioError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| TwilioError::bad_request(20001, format!("Malformed form body: {e}")))
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    authorize(&shared, &account, &headers)?;
    {
        let mut state = shared.lock();
        if state.faults.fail_next_creates > 0 {
            state.faults.fail_next_creates -= 1;
            let code = state.faults.fail_code;
            let status = match code {
                20003 => 401,
                20429 | 10004 => 429,
                _ => 400,
            };
            return Err(TwilioError::new(status, code, "Injected fault"));
        }
    }
    let form = form(&body)?;
    let params = CallParams::parse(&form)?;
    let script = shared.script_for(&params.to);
    *shared.lock().dials.entry(params.to.clone()).or_default() += 1;
    if script.pickup == Pickup::Unreachable {
        return Err(TwilioError::bad_request(
            21214,
            format!("'To' phone number cannot be reached: {}", params.to),
        ));
    }
    let sid = super::new_sid("CA");
    let report = CallReport {
        sid: sid.clone(),
        account_sid: shared.config.account_sid.clone(),
        to: params.to.clone(),
        from: params.from.clone(),
        status: "queued".into(),
        answered_by: None,
        created_at: shared.now(),
        dialed_at: None,
        answered_at: None,
        ended_at: None,
        ended_by: None,
        request: form,
        twiml: Vec::new(),
        callbacks: Vec::new(),
        streams: Vec::new(),
        heard: Vec::new(),
        twiml_audio: Vec::new(),
        said: Vec::new(),
        barge_ins: Vec::new(),
        underruns_ms: Vec::new(),
        transfers: Vec::new(),
        timeline: Vec::new(),
    };
    let resource = resource(&report);
    let (control, control_rx) = mpsc::channel(8);
    let (ended, _) = watch::channel(false);
    {
        let mut state = shared.lock();
        state.order.push(sid.clone());
        state.calls.insert(
            sid.clone(),
            CallEntry {
                report,
                control: Some(control),
                ended,
                phone: None,
            },
        );
    }
    shared.event(&sid, "created (queued)");
    let slot = shared.reserve_slot();
    tokio::spawn(call::run(
        shared.clone(),
        sid,
        params,
        script,
        slot,
        Interrupts::new(control_rx),
    ));
    Ok((StatusCode::CREATED, Json(resource)))
}

fn call_sid(file: &str) -> Result<&str, TwilioError> {
    file.strip_suffix(".json")
        .ok_or_else(|| TwilioError::not_found(file))
}

/// `GET Calls.json?To=&From=`: the account's calls, newest first, optionally filtered by
/// the `To` and `From` numbers (Twilio's list filters), one page of up to `PageSize`.
async fn list(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Reply {
    authorize(&shared, &account, &headers)?;
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (to, from) = (get("To"), get("From"));
    let page_size: usize = get("PageSize").and_then(|p| p.parse().ok()).unwrap_or(50);
    let state = shared.lock();
    let calls: Vec<Value> = state
        .order
        .iter()
        .rev()
        .filter_map(|sid| state.calls.get(sid))
        .map(|entry| &entry.report)
        .filter(|r| to.as_deref().is_none_or(|t| r.to == t))
        .filter(|r| from.as_deref().is_none_or(|f| r.from == f))
        .take(page_size)
        .map(resource)
        .collect();
    Ok((
        StatusCode::OK,
        Json(json!({"calls": calls, "page": 0, "page_size": page_size,
                    "uri": format!("/2010-04-01/Accounts/{account}/Calls.json")})),
    ))
}

async fn fetch(
    State(shared): State<Arc<Shared>>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    authorize(&shared, &account, &headers)?;
    let sid = call_sid(&file)?;
    let report = shared
        .with_call(sid, |e| e.report.clone())
        .ok_or_else(|| TwilioError::not_found(sid))?;
    Ok((StatusCode::OK, Json(resource(&report))))
}

async fn update(
    State(shared): State<Arc<Shared>>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    authorize(&shared, &account, &headers)?;
    let sid = call_sid(&file)?.to_string();
    let form = form(&body)?;
    let get = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (control, status) = shared
        .with_call(&sid, |e| (e.control.clone(), e.report.status.clone()))
        .ok_or_else(|| TwilioError::not_found(&sid))?;
    let live_call = |what: &str| {
        shared.event(&sid, format!("REST: {what}"));
    };

    if let Some(requested) = get("Status") {
        if requested != "completed" && requested != "canceled" {
            return Err(TwilioError::bad_request(
                21218,
                format!("Invalid Status: {requested}"),
            ));
        }
        // A call that has ended is gone for good: hanging it up again is a 404.
        let control = control.ok_or_else(|| TwilioError::not_found(&sid))?;
        // Canceling only affects calls that are not yet answered.
        if !(requested == "canceled" && status == "in-progress") {
            live_call(&format!("Status={requested}"));
            let _ = control.send(Control::Hangup).await;
            // Answer with the final status, like Twilio, but without waiting for the
            // `completed` callback: the product may be handling it with locks held by the
            // very request that is waiting here.
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline
                && shared.with_call(&sid, |e| e.report.ended_at.is_none()) == Some(true)
            {
                sleep(Duration::from_millis(5)).await;
            }
        }
    } else if let Some(source) = get("Twiml").map(Source::Inline).or_else(|| {
        get("Url").map(|url| Source::Url {
            url,
            method: get("Method")
                .unwrap_or_else(|| "POST".into())
                .to_uppercase(),
        })
    }) {
        let control = control.ok_or_else(|| {
            TwilioError::bad_request(21220, "Call is not in-progress. Cannot redirect.")
        })?;
        live_call("redirect");
        let _ = control.send(Control::Redirect(source)).await;
    }
    let report = shared
        .with_call(&sid, |e| e.report.clone())
        .ok_or_else(|| TwilioError::not_found(&sid))?;
    Ok((StatusCode::OK, Json(resource(&report))))
}

/// The call resource as Twilio renders it.
fn resource(report: &CallReport) -> Value {
    let duration = report.duration_s().map(|d| d.to_string());
    let price = report
        .ended_at
        .and(report.answered_at)
        .map(|_| "-0.01400".to_string());
    let uri = format!(
        "/2010-04-01/Accounts/{}/Calls/{}.json",
        report.account_sid, report.sid
    );
    let base = uri.trim_end_matches(".json").to_string();
    json!({
        "sid": report.sid,
        "account_sid": report.account_sid,
        "to": report.to,
        "to_formatted": report.to,
        "from": report.from,
        "from_formatted": report.from,
        "status": report.status,
        "direction": "outbound-api",
        "answered_by": report.answered_by,
        "api_version": "2010-04-01",
        "date_created": twilio_time(report.created_at),
        "date_updated": twilio_time(report.last_change()),
        "start_time": report.dialed_at.map(twilio_time),
        "end_time": report.ended_at.map(twilio_time),
        "duration": duration,
        "price": price,
        "price_unit": "USD",
        "queue_time": report.dialed_at
            .map(|d| (d - report.created_at).num_milliseconds().max(0).to_string())
            .unwrap_or_else(|| "0".into()),
        "parent_call_sid": null,
        "phone_number_sid": null,
        "forwarded_from": null,
        "caller_name": null,
        "group_sid": null,
        "trunk_sid": null,
        "uri": uri,
        "subresource_uris": {
            "notifications": format!("{base}/Notifications.json"),
            "recordings": format!("{base}/Recordings.json"),
            "events": format!("{base}/Events.json"),
        },
    })
}
