//! `POST /2010-04-01/Accounts/{Sid}/Messages.json` (form, Basic auth; 201 with the message).

use std::sync::OnceLock;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::dialer::twilio::{http_client, send, TwilioError};
use crate::dialer::ProviderAccount;

/// The part of Twilio's message resource we keep.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageResource {
    pub sid: String,
    pub status: String,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
}

/// One client for every send (connection reuse), built on first use.
fn client(timeout_sec: u64) -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| http_client(Duration::from_secs(timeout_sec)))
}

/// Asks Twilio to send `body` from `from` to `to`, with delivery statuses posted to
/// `status_callback`.
pub async fn create_message(
    base_url: &str,
    timeout_sec: u64,
    account: &ProviderAccount,
    form: &[(&str, &str)],
) -> Result<MessageResource, TwilioError> {
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        base_url.trim_end_matches('/'),
        account.account_sid
    );
    let request = client(timeout_sec)
        .post(url)
        .basic_auth(
            &account.account_sid,
            Some(account.auth_token.expose_secret()),
        )
        .form(form);
    send(request).await
}
