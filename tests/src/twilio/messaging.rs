//! Twilio Messaging: the Messages resource (`POST .../Messages.json`, `GET
//! .../Messages/{Sid}.json`), delivery status callbacks (`sent`, then `delivered` or
//! `undelivered`), the number's `SmsUrl` for texts people send us, and Twilio's default
//! opt-out handling on long codes: a whole-text STOP (STOPALL, UNSUBSCRIBE, CANCEL, END,
//! QUIT) blocks further sends from that number to the sender with 21610 until START
//! (UNSTOP, YES); the text still reaches the webhook.

use super::call::inbound::NumberHooks;
use super::callbacks::{self, Request};
use super::error::TwilioError;
use super::report::CallbackKind;
use super::rest::{authorize, form};
use super::store::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::time::Duration;

/// A text as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageReport {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub body: String,
    /// `outbound-api` (sent over REST), `outbound-reply` (Twilio's opt-out confirmations)
    /// or `inbound`.
    pub direction: String,
    /// The latest status.
    pub status: String,
    /// Every status callback sent, in order: `(MessageStatus, HTTP status of the answer)`.
    pub callbacks: Vec<(String, Option<u16>)>,
}

/// Numbers' webhooks, texts, opt-outs.
#[derive(Debug, Default)]
pub(crate) struct Messaging {
    pub numbers: HashMap<String, NumberHooks>,
    pub messages: Vec<MessageReport>,
    /// `(sender, our number)` pairs blocked by a STOP.
    pub opted_out: HashSet<(String, String)>,
    /// Recipients whose carrier fails delivery (`undelivered`, 30003).
    pub unreachable: HashSet<String>,
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            post(create_message),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{file}",
            get(fetch_message),
        )
}

fn resource(shared: &Shared, m: &MessageReport) -> Value {
    let now = super::call::twilio_time(shared.now());
    let account = &shared.config.account_sid;
    json!({
        "sid": m.sid, "account_sid": account, "to": m.to, "from": m.from, "body": m.body,
        "status": m.status, "direction": m.direction, "num_segments": segments(&m.body).to_string(),
        "num_media": "0", "price": null, "price_unit": "USD", "error_code": null,
        "error_message": null, "messaging_service_sid": null, "api_version": "2010-04-01",
        "date_created": now, "date_updated": now, "date_sent": null,
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{}.json", m.sid),
    })
}

/// GSM-7 segments (153 characters each once split), as Twilio bills them.
fn segments(body: &str) -> usize {
    let n = body.chars().count();
    if n <= 160 {
        1
    } else {
        n.div_ceil(153)
    }
}

async fn create_message(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), TwilioError> {
    authorize(&shared, &account, &headers)?;
    let form = form(&body)?;
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let to = get("To")
        .ok_or_else(|| TwilioError::bad_request(21604, "A 'To' phone number is required."))?;
    if !super::call::is_e164(&to) {
        return Err(TwilioError::bad_request(
            21211,
            format!("Invalid 'To' Phone Number: {to}"),
        ));
    }
    let from = get("From")
        .ok_or_else(|| TwilioError::bad_request(21603, "A 'From' phone number is required."))?;
    let text =
        get("Body").ok_or_else(|| TwilioError::bad_request(21602, "Message body is required."))?;
    if text.chars().count() > 1600 {
        return Err(TwilioError::bad_request(
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    if !shared.trunking().owns(&from) {
        return Err(TwilioError::bad_request(
            21606,
            format!("The From phone number {from} is not a valid, SMS-capable inbound phone number or short code for your account."),
        ));
    }
    let mut messaging = shared.messaging();
    if messaging.opted_out.contains(&(to.clone(), from.clone())) {
        return Err(TwilioError::bad_request(
            21610,
            "Attempt to send to unsubscribed recipient",
        ));
    }
    let report = MessageReport {
        sid: super::new_sid("SM"),
        from,
        to,
        body: text,
        direction: "outbound-api".into(),
        status: "queued".into(),
        callbacks: Vec::new(),
    };
    let answer = resource(&shared, &report);
    let undelivered = messaging.unreachable.contains(&report.to);
    messaging.messages.push(report.clone());
    drop(messaging);
    // The first status (queued) gets no callback; then sent, then the carrier's verdict.
    let callback = get("StatusCallback");
    let shared_for_task = shared.clone();
    tokio::spawn(async move {
        let last = if undelivered {
            "undelivered"
        } else {
            "delivered"
        };
        for status in ["sent", last] {
            tokio::time::sleep(Duration::from_millis(50)).await;
            advance(&shared_for_task, &report, status, callback.as_deref()).await;
        }
    });
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Moves message `report` to `status` and posts the status callback, if one was asked for.
async fn advance(shared: &Arc<Shared>, report: &MessageReport, status: &str, url: Option<&str>) {
    let set = |shared: &Shared, answer: Option<u16>| {
        let mut messaging = shared.messaging();
        if let Some(m) = messaging.messages.iter_mut().find(|m| m.sid == report.sid) {
            m.status = status.to_string();
            if url.is_some() {
                m.callbacks.push((status.to_string(), answer));
            }
        }
    };
    let Some(url) = url else {
        set(shared, None);
        return;
    };
    let mut params: Vec<(String, String)> = [
        ("AccountSid", shared.config.account_sid.as_str()),
        ("ApiVersion", "2010-04-01"),
        ("From", &report.from),
        ("MessageSid", &report.sid),
        ("MessageStatus", status),
        ("SmsSid", &report.sid),
        ("SmsStatus", status),
        ("To", &report.to),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if status == "undelivered" {
        params.push(("ErrorCode".into(), "30003".into()));
    }
    if matches!(status, "delivered" | "undelivered") {
        let done = shared.now().format("%y%m%d%H%M").to_string();
        params.push(("RawDlrDoneDate".into(), done));
    }
    let request = Request {
        kind: CallbackKind::Status,
        url: url.to_string(),
        method: "POST".into(),
        params,
    };
    // Recorded on the message, not on a call: the sid names no call.
    let answer = callbacks::deliver(shared, request).await;
    set(shared, answer);
}

async fn fetch_message(
    State(shared): State<Arc<Shared>>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Value>), TwilioError> {
    authorize(&shared, &account, &headers)?;
    let sid = file
        .strip_suffix(".json")
        .ok_or_else(|| TwilioError::not_found(&file))?;
    let messaging = shared.messaging();
    let message = messaging
        .messages
        .iter()
        .find(|m| m.sid == sid)
        .ok_or_else(|| TwilioError::not_found(sid))?;
    Ok((StatusCode::OK, Json(resource(&shared, message))))
}

/// Whether a whole text is an opt-out (`Some(true)`) or opt-in (`Some(false)`) keyword.
fn opt_keyword(body: &str) -> Option<bool> {
    match body.trim().to_ascii_uppercase().as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(true),
        "START" | "UNSTOP" | "YES" => Some(false),
        _ => None,
    }
}

/// Someone at `from` texts our number `to`: Twilio applies its opt-out rules, confirms
/// them to the sender, and posts the text to the number's `SmsUrl` (signed). Returns the
/// message's SID and the webhook's HTTP status.
pub(crate) async fn receive(
    shared: &Arc<Shared>,
    from: &str,
    to: &str,
    body: &str,
) -> Result<(String, u16), String> {
    let url = shared
        .messaging()
        .numbers
        .get(to)
        .and_then(|h| h.sms_url.clone())
        .ok_or_else(|| format!("{to} has no SMS URL"))?;
    let sid = super::new_sid("SM");
    {
        let mut messaging = shared.messaging();
        let pair = (from.to_string(), to.to_string());
        let reply = match opt_keyword(body) {
            Some(true) => {
                messaging.opted_out.insert(pair);
                Some("You have successfully been unsubscribed. You will not receive any more messages from this number. Reply START to resubscribe.")
            }
            Some(false) => {
                messaging.opted_out.remove(&pair);
                Some("You have successfully been re-subscribed to messages from this number. Reply HELP for help. Reply STOP to unsubscribe.")
            }
            None => None,
        };
        messaging.messages.push(MessageReport {
            sid: sid.clone(),
            from: from.to_string(),
            to: to.to_string(),
            body: body.to_string(),
            direction: "inbound".into(),
            status: "received".into(),
            callbacks: Vec::new(),
        });
        if let Some(reply) = reply {
            messaging.messages.push(MessageReport {
                sid: super::new_sid("SM"),
                from: to.to_string(),
                to: from.to_string(),
                body: reply.into(),
                direction: "outbound-reply".into(),
                status: "delivered".into(),
                callbacks: Vec::new(),
            });
        }
    }
    let params: Vec<(String, String)> = [
        ("AccountSid", shared.config.account_sid.as_str()),
        ("ApiVersion", "2010-04-01"),
        ("Body", body),
        ("From", from),
        ("FromCountry", ""),
        ("MessageSid", &sid),
        ("NumMedia", "0"),
        ("NumSegments", &segments(body).to_string()),
        ("SmsMessageSid", &sid),
        ("SmsSid", &sid),
        ("SmsStatus", "received"),
        ("To", to),
        ("ToCountry", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let request = Request {
        kind: CallbackKind::Status,
        url,
        method: "POST".into(),
        params,
    };
    let status = callbacks::deliver(shared, request).await.unwrap_or(0);
    Ok((sid, status))
}
