//! A Twilio Elastic SIP trunk as LiveKit's outbound trunk: the trunk with its termination
//! domain (`<name>.pstn.twilio.com`), a credential list holding the one username and
//! password LiveKit will present, and the account's numbers moved onto the trunk so they
//! can be used as caller ids.
//!
//! Provisioning is all or nothing: a step that fails undoes the steps before it, so a
//! refused request leaves no half-made trunk behind at Twilio.

use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::dialer::twilio::{http_client, send, send_no_content, TwilioError};
use crate::dialer::ProviderAccount;

/// Twilio's SIP trunking REST APIs: Trunking v1 and the 2010 API's SIP credential lists
/// and phone numbers. Both base URLs are settings, so tests point them at the emulator.
#[derive(Debug, Clone)]
pub struct TrunkingClient {
    http: reqwest::Client,
    api_url: String,
    trunking_url: String,
}

/// What one provisioning run created.
#[derive(Debug, Clone)]
pub struct ProvisionedTrunk {
    pub trunk_sid: String,
    /// The termination URI's host: what LiveKit's outbound trunk dials.
    pub domain_name: String,
    pub credential_list_sid: String,
    pub username: String,
    pub password: SecretString,
}

/// The Twilio side of a trunk, as stored, for removing it again.
#[derive(Debug, Clone)]
pub struct TwilioTrunkRef {
    pub trunk_sid: String,
    pub credential_list_sid: Option<String>,
}

/// What to create.
#[derive(Debug, Clone)]
pub struct TrunkPlan {
    pub friendly_name: String,
    /// `<label>.pstn.twilio.com`.
    pub domain_name: String,
    /// E.164 numbers of the account to move onto the trunk.
    pub numbers: Vec<String>,
}

/// Why provisioning stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// A listed number is not one of the account's (index into the plan's numbers).
    #[error("{number} is not a phone number of this Twilio account")]
    UnknownNumber { index: usize, number: String },
    #[error(transparent)]
    Twilio(#[from] TwilioError),
}

#[derive(Debug, Deserialize)]
struct Sid {
    sid: String,
}

#[derive(Debug, Deserialize)]
struct TrunkResource {
    sid: String,
    domain_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NumberList {
    incoming_phone_numbers: Vec<NumberResource>,
}

#[derive(Debug, Deserialize)]
struct NumberResource {
    sid: String,
    phone_number: String,
}

impl TrunkingClient {
    pub fn new(api_url: &str, trunking_url: &str, timeout: Duration) -> Self {
        Self {
            http: http_client(timeout),
            api_url: api_url.trim_end_matches('/').to_string(),
            trunking_url: trunking_url.trim_end_matches('/').to_string(),
        }
    }

    fn account_url(&self, account: &ProviderAccount) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}",
            self.api_url, account.account_sid
        )
    }

    /// A request authenticated as `account` (HTTP Basic with its SID and token).
    fn request(
        &self,
        account: &ProviderAccount,
        method: reqwest::Method,
        url: String,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, url).basic_auth(
            &account.account_sid,
            Some(account.auth_token.expose_secret()),
        )
    }

    fn post(&self, account: &ProviderAccount, url: String) -> reqwest::RequestBuilder {
        self.request(account, reqwest::Method::POST, url)
    }

    /// The `PN` SID of one of the account's numbers, if it has it.
    async fn find_number(
        &self,
        account: &ProviderAccount,
        number: &str,
    ) -> Result<Option<String>, TwilioError> {
        let url = format!("{}/IncomingPhoneNumbers.json", self.account_url(account));
        let request = self
            .request(account, reqwest::Method::GET, url)
            .query(&[("PhoneNumber", number)]);
        let list: NumberList = send(request).await?;
        Ok(list
            .incoming_phone_numbers
            .into_iter()
            .find(|n| n.phone_number == number)
            .map(|n| n.sid))
    }

    /// Creates the trunk, its credentials and number associations, or nothing.
    pub async fn provision(
        &self,
        account: &ProviderAccount,
        plan: &TrunkPlan,
    ) -> Result<ProvisionedTrunk, ProvisionError> {
        // Every number must be the account's before anything is created.
        let mut number_sids = Vec::with_capacity(plan.numbers.len());
        for (index, number) in plan.numbers.iter().enumerate() {
            match self.find_number(account, number).await? {
                Some(sid) => number_sids.push(sid),
                None => {
                    return Err(ProvisionError::UnknownNumber {
                        index,
                        number: number.clone(),
                    })
                }
            }
        }

        let trunk: TrunkResource = send(
            self.post(account, format!("{}/v1/Trunks", self.trunking_url))
                .form(&[
                    ("FriendlyName", plan.friendly_name.as_str()),
                    ("DomainName", plan.domain_name.as_str()),
                ]),
        )
        .await?;
        let mut created = TwilioTrunkRef {
            trunk_sid: trunk.sid.clone(),
            credential_list_sid: None,
        };
        let finished = self
            .finish(account, plan, &trunk.sid, &number_sids, &mut created)
            .await;
        match finished {
            Ok((credential_list_sid, username, password)) => Ok(ProvisionedTrunk {
                trunk_sid: trunk.sid,
                domain_name: trunk
                    .domain_name
                    .unwrap_or_else(|| plan.domain_name.clone()),
                credential_list_sid,
                username,
                password,
            }),
            Err(err) => {
                if let Err(undo) = self.deprovision(account, &created).await {
                    tracing::error!(trunk = %created.trunk_sid, "could not undo a failed provisioning at Twilio: {undo}");
                }
                Err(err.into())
            }
        }
    }

    /// The steps after the trunk exists; `created` records what there is to undo.
    async fn finish(
        &self,
        account: &ProviderAccount,
        plan: &TrunkPlan,
        trunk_sid: &str,
        number_sids: &[String],
        created: &mut TwilioTrunkRef,
    ) -> Result<(String, String, SecretString), TwilioError> {
        let lists = format!("{}/SIP/CredentialLists", self.account_url(account));
        let list: Sid = send(
            self.post(account, format!("{lists}.json"))
                .form(&[("FriendlyName", format!("{} (LiveKit)", plan.friendly_name))]),
        )
        .await?;
        created.credential_list_sid = Some(list.sid.clone());

        let (username, password) = new_credentials();
        let _: Sid = send(
            self.post(account, format!("{lists}/{}/Credentials.json", list.sid))
                .form(&[
                    ("Username", username.as_str()),
                    ("Password", password.expose_secret()),
                ]),
        )
        .await?;

        let trunk_url = format!("{}/v1/Trunks/{trunk_sid}", self.trunking_url);
        let _: Sid = send(
            self.post(account, format!("{trunk_url}/CredentialLists"))
                .form(&[("CredentialListSid", list.sid.as_str())]),
        )
        .await?;
        for number_sid in number_sids {
            let _: Sid = send(
                self.post(account, format!("{trunk_url}/PhoneNumbers"))
                    .form(&[("PhoneNumberSid", number_sid.as_str())]),
            )
            .await?;
        }
        Ok((list.sid, username, password))
    }

    /// Deletes the trunk (which frees its numbers) and its credential list. Either being
    /// gone already counts as done.
    pub async fn deprovision(
        &self,
        account: &ProviderAccount,
        trunk: &TwilioTrunkRef,
    ) -> Result<(), TwilioError> {
        let trunk_url = format!("{}/v1/Trunks/{}", self.trunking_url, trunk.trunk_sid);
        gone_is_fine(
            send_no_content(self.request(account, reqwest::Method::DELETE, trunk_url)).await,
        )?;
        if let Some(list) = &trunk.credential_list_sid {
            let url = format!(
                "{}/SIP/CredentialLists/{list}.json",
                self.account_url(account)
            );
            gone_is_fine(
                send_no_content(self.request(account, reqwest::Method::DELETE, url)).await,
            )?;
        }
        Ok(())
    }
}

fn gone_is_fine(result: Result<(), TwilioError>) -> Result<(), TwilioError> {
    match result {
        Err(TwilioError::Api { status: 404, .. }) => Ok(()),
        other => other,
    }
}

/// A username unique enough to read in Twilio's console, and a password of 24 random
/// letters and digits that meets Twilio's rule (12+ characters, a digit, mixed case).
fn new_credentials() -> (String, SecretString) {
    let mut rng = rand::thread_rng();
    let username = format!(
        "livekit-{}",
        Alphanumeric.sample_string(&mut rng, 10).to_lowercase()
    );
    // Three fixed classes first, then random characters; the classes guarantee the rule
    // whatever the random part holds.
    let password = format!("Lk7{}", Alphanumeric.sample_string(&mut rng, 21));
    (username, SecretString::from(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_meet_twilios_rule() {
        for _ in 0..100 {
            let (username, password) = new_credentials();
            let p = password.expose_secret();
            assert!(username.len() <= 32);
            assert!(p.len() >= 12);
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        }
    }
}
