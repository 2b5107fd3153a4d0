//! Requests from the emulator to the product: status and AMD callbacks (queued per call,
//! delivered one at a time, optionally twice or reordered) and TwiML fetches. Every one is
//! signed with the account's auth token over the exact URL requested, and recorded.

use super::report::{CallbackKind, CallbackRecord};
use super::script::CallbackDelivery;
use super::signature;
use super::store::Shared;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A request to make.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub kind: CallbackKind,
    pub url: String,
    pub method: String,
    pub params: Vec<(String, String)>,
}

/// Makes `request` (signed) about no call, such as a message's status or an inbound
/// text; returns the HTTP status of the answer, if one came.
pub(crate) async fn deliver(shared: &Shared, request: Request) -> Option<u16> {
    let sig = signature::sign(&shared.config.auth_token, &request.url, &request.params);
    let result = shared
        .http
        .post(&request.url)
        .form(&request.params)
        .header(signature::HEADER, &sig)
        .header("User-Agent", "TwilioProxy/1.1")
        .send()
        .await;
    match result {
        Ok(response) => Some(response.status().as_u16()),
        Err(e) => {
            tracing::warn!("twilio emulator: {} unreachable: {e}", request.url);
            None
        }
    }
}

/// Makes `request`, records it on call `sid`, and returns the body on a 2xx answer.
pub(crate) async fn send(shared: &Shared, sid: &str, request: Request) -> Result<String, String> {
    let get = request.method.eq_ignore_ascii_case("GET");
    // For GET the parameters move into the query string and the signature covers only the
    // URL, as Twilio does.
    let url = if get && !request.params.is_empty() {
        let query = serde_urlencoded::to_string(&request.params).unwrap_or_default();
        let separator = if request.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}{query}", request.url)
    } else {
        request.url.clone()
    };
    let signed_params: &[(String, String)] = if get { &[] } else { &request.params };
    let sig = signature::sign(&shared.config.auth_token, &url, signed_params);
    let builder = if get {
        shared.http.get(&url)
    } else {
        shared.http.post(&url).form(&request.params)
    };
    let sent_at = shared.now();
    let result = builder
        .header(signature::HEADER, &sig)
        .header("User-Agent", "TwilioProxy/1.1")
        .send()
        .await;
    let (status, body, error) = match result {
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            (
                Some(status.as_u16()),
                Some(body).filter(|_| status.is_success()),
                None,
            )
        }
        Err(e) => (None, None, Some(e.to_string())),
    };
    let record = CallbackRecord {
        kind: request.kind,
        url,
        method: request.method.to_uppercase(),
        params: request.params,
        signature: sig,
        sent_at,
        response_status: status,
        error: error.clone(),
    };
    shared.update(sid, |r| r.callbacks.push(record));
    body.ok_or_else(|| error.unwrap_or_else(|| format!("HTTP {}", status.unwrap_or(0))))
}

/// The per-call queue of callbacks.
pub(crate) struct Queue {
    tx: mpsc::UnboundedSender<Request>,
    task: JoinHandle<()>,
}

impl Queue {
    /// Starts delivering call `sid`'s callbacks in the background.
    pub(crate) fn start(shared: Arc<Shared>, sid: String, delivery: CallbackDelivery) -> Queue {
        // Unbounded is safe here: a call produces at most a handful of callbacks.
        let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
        let task = tokio::spawn(async move {
            let mut held: Option<Request> = None;
            while let Some(request) = rx.recv().await {
                match delivery {
                    CallbackDelivery::InOrder => {
                        let _ = send(&shared, &sid, request).await;
                    }
                    CallbackDelivery::Twice => {
                        let _ = send(&shared, &sid, request.clone()).await;
                        let _ = send(&shared, &sid, request).await;
                    }
                    CallbackDelivery::Reordered => match held.take() {
                        None => held = Some(request),
                        Some(earlier) => {
                            let _ = send(&shared, &sid, request).await;
                            let _ = send(&shared, &sid, earlier).await;
                        }
                    },
                }
            }
            if let Some(last) = held {
                let _ = send(&shared, &sid, last).await;
            }
        });
        Queue { tx, task }
    }

    /// Queues a request.
    pub(crate) fn push(&self, request: Request) {
        // The task only ends after `finish`, so the send cannot fail before then.
        let _ = self.tx.send(request);
    }

    /// Waits until everything queued has been delivered.
    pub(crate) async fn finish(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}
