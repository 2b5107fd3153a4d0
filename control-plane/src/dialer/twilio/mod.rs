//! Twilio Media Streams mode: create the call with TwiML that connects its audio to an
//! agent worker's WebSocket, and follow it through signed status callbacks.

mod client;
pub mod twiml;

pub(crate) use client::{http_client, send, send_no_content};
pub use client::{TwilioClient, TwilioError};

use async_trait::async_trait;
use shared::CallStatus;

use super::{DialError, DialRequest, Dialer, Placed, ProviderAccount, ProviderCall, Unrecorded};

/// Where Twilio should send things for one call.
#[derive(Debug, Clone)]
pub struct TwilioUrls {
    /// Our public base URL, e.g. `https://cp.example.com` (callbacks go under it).
    pub public_url: String,
    /// The agent workers' Media Streams WebSocket, e.g. `wss://workers.example.com/twilio/media`.
    pub media_stream_url: String,
}

/// The `Dialer` for `twilio_stream` trunks.
#[derive(Debug, Clone)]
pub struct TwilioStreamDialer {
    client: TwilioClient,
    urls: TwilioUrls,
}

impl TwilioStreamDialer {
    pub fn new(client: TwilioClient, urls: TwilioUrls) -> Self {
        Self { client, urls }
    }

    fn callback(&self, kind: &str, call_id: uuid::Uuid) -> String {
        format!(
            "{}/webhooks/twilio/{kind}?callId={call_id}",
            self.urls.public_url.trim_end_matches('/')
        )
    }
}

/// Twilio's status names in our spelling.
pub fn parse_status(twilio: &str) -> Option<CallStatus> {
    Some(match twilio {
        "queued" => CallStatus::Queued,
        "initiated" => CallStatus::Initiated,
        "ringing" => CallStatus::Ringing,
        "in-progress" | "answered" => CallStatus::InProgress,
        "completed" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "no-answer" => CallStatus::NoAnswer,
        "failed" => CallStatus::Failed,
        "canceled" => CallStatus::Canceled,
        _ => return None,
    })
}

#[async_trait]
impl Dialer for TwilioStreamDialer {
    async fn dial(&self, request: &DialRequest) -> Result<Placed, DialError> {
        let twiml = twiml::connect_stream(
            &self.urls.media_stream_url,
            &[
                ("callId", request.call_id.to_string().as_str()),
                ("token", request.token.as_str()),
            ],
        );
        let mut form: Vec<(&str, String)> = vec![
            ("To", request.to.to_string()),
            ("From", request.from.clone()),
            ("Twiml", twiml),
            ("StatusCallback", self.callback("status", request.call_id)),
            ("StatusCallbackMethod", "POST".into()),
            ("Timeout", request.ring_timeout_sec.to_string()),
            ("TimeLimit", request.time_limit_sec.to_string()),
        ];
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.push(("StatusCallbackEvent", event.into()));
        }
        if let Some(timeout) = request.amd_timeout_sec {
            form.extend([
                ("MachineDetection", "DetectMessageEnd".to_string()),
                ("AsyncAmd", "true".into()),
                (
                    "AsyncAmdStatusCallback",
                    self.callback("amd", request.call_id),
                ),
                ("AsyncAmdStatusCallbackMethod", "POST".into()),
                ("MachineDetectionTimeout", timeout.to_string()),
            ]);
        }
        let call = self
            .client
            .create_call(&request.account, &form)
            .await
            .map_err(TwilioError::into_dial_error)?;
        Ok(Placed {
            provider_call_id: call.sid,
        })
    }

    async fn hang_up(
        &self,
        account: &ProviderAccount,
        provider_call_id: &str,
    ) -> Result<(), DialError> {
        match self
            .client
            .update_call(account, provider_call_id, &[("Status", "completed".into())])
            .await
        {
            Ok(_) => Ok(()),
            // 20404: the call already ended; hanging up raced the callee. Done either way.
            Err(TwilioError::Api {
                code: Some(20404), ..
            }) => Ok(()),
            Err(err) => Err(err.into_dial_error()),
        }
    }

    async fn transfer(
        &self,
        account: &ProviderAccount,
        provider_call_id: &str,
        to: &str,
    ) -> Result<(), DialError> {
        self.redirect(account, provider_call_id, &twiml::dial(to))
            .await
    }

    async fn redirect(
        &self,
        account: &ProviderAccount,
        provider_call_id: &str,
        instructions: &str,
    ) -> Result<(), DialError> {
        self.client
            .update_call(
                account,
                provider_call_id,
                &[("Twiml", instructions.to_string())],
            )
            .await
            .map(|_| ())
            .map_err(TwilioError::into_dial_error)
    }

    async fn fetch(
        &self,
        account: &ProviderAccount,
        provider_call_id: &str,
    ) -> Result<Option<ProviderCall>, DialError> {
        match self.client.fetch_call(account, provider_call_id).await {
            Ok(call) => Ok(call.into_provider_call()),
            Err(TwilioError::Api {
                code: Some(20404), ..
            }) => Ok(None),
            Err(err) => Err(err.into_dial_error()),
        }
    }

    async fn find_unrecorded(
        &self,
        account: &ProviderAccount,
        call: &Unrecorded<'_>,
    ) -> Result<Option<ProviderCall>, DialError> {
        let Unrecorded {
            to,
            from,
            known,
            since,
            ..
        } = *call;
        // Twilio does not echo our callback URL, so the lost call is recognised as the
        // one between these two numbers, made since the dial, that no call row records.
        let calls = self
            .client
            .list_calls(account, to, from)
            .await
            .map_err(TwilioError::into_dial_error)?;
        Ok(calls
            .into_iter()
            .filter(|call| !known.contains(&call.sid))
            .filter(|call| call.created_at().is_none_or(|at| at >= since))
            .min_by_key(|call| call.created_at())
            .and_then(|call| call.into_provider_call()))
    }
}
