//! A request to provision a Twilio Elastic SIP trunk as a `livekit_sip` trunk, checked
//! before anything is asked of Twilio.

use serde::Deserialize;
use utoipa::ToSchema;

use super::trunk::{non_empty, parse_calls_per_second, parse_numbers};
use crate::error::{ApiError, Validator};

/// The suffix every Elastic SIP trunk's termination domain has.
pub const PSTN_SUFFIX: &str = ".pstn.twilio.com";

/// What an API client sends to `POST /api/v1/trunks/twilio`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwilioTrunkInput {
    pub name: String,
    /// Numbers the Twilio account already has (E.164), moved onto the new trunk; they are
    /// the caller ids campaigns may use. At least one.
    pub numbers: Vec<String>,
    /// The termination domain: `acme-outbound` or `acme-outbound.pstn.twilio.com`. Twilio
    /// domains are global and a deleted trunk's stays reserved for up to 30 days. Default:
    /// made from the name and a random suffix.
    pub domain_name: Option<String>,
    /// The Twilio account to create the trunk in; default: the deployment's account.
    pub account_sid: Option<String>,
    /// Write-only; required with `accountSid`.
    pub auth_token: Option<String>,
    /// Calls this trunk may start per second, above 0 and at most 100 (default 1).
    pub calls_per_second: Option<f64>,
}

/// A validated provisioning request.
#[derive(Debug, Clone)]
pub struct TwilioTrunkSpec {
    pub name: String,
    pub numbers: Vec<String>,
    /// Always `<label>.pstn.twilio.com`.
    pub domain_name: String,
    /// Both or neither.
    pub account: Option<(String, String)>,
    pub calls_per_second: f64,
}

impl TwilioTrunkInput {
    pub fn into_spec(self) -> Result<TwilioTrunkSpec, ApiError> {
        let mut v = Validator::new();
        let name = self.name.trim().to_string();
        v.check(!name.is_empty(), "name", "must not be empty")
            .check(name.len() <= 64, "name", "must be at most 64 characters");
        let numbers = parse_numbers(&mut v, &self.numbers);
        let domain_name = match non_empty(self.domain_name) {
            Some(given) => {
                let domain = given.to_ascii_lowercase();
                let label = domain
                    .strip_suffix(PSTN_SUFFIX)
                    .unwrap_or(&domain)
                    .to_string();
                if let Err(message) = check_label(&label) {
                    v.push("domainName", message);
                }
                format!("{label}{PSTN_SUFFIX}")
            }
            None => format!("{}{PSTN_SUFFIX}", default_label(&name)),
        };
        let account = match (non_empty(self.account_sid), non_empty(self.auth_token)) {
            (Some(sid), Some(token)) => {
                v.check(
                    sid.starts_with("AC") && sid.len() == 34,
                    "accountSid",
                    "must be a Twilio account SID (AC + 32 characters)",
                );
                Some((sid, token))
            }
            (None, None) => None,
            (Some(_), None) => {
                v.push("authToken", "is required with accountSid");
                None
            }
            (None, Some(_)) => {
                v.push("accountSid", "is required with authToken");
                None
            }
        };
        let calls_per_second = parse_calls_per_second(&mut v, self.calls_per_second);
        v.finish()?;
        Ok(TwilioTrunkSpec {
            name,
            numbers,
            domain_name,
            account,
            calls_per_second,
        })
    }
}

/// Letters, digits and `-`, as Twilio allows in a trunk domain.
fn check_label(label: &str) -> Result<(), &'static str> {
    if label.is_empty() || label.len() > 63 {
        return Err("must have a name of 1 to 63 characters before .pstn.twilio.com");
    }
    if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("may hold only letters, digits and -");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("must not start or end with -");
    }
    Ok(())
}

/// `Acme Outbound!` -> `acme-outbound-7f3a9c`: readable, and unlikely to be taken.
fn default_label(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(40).collect();
    let suffix = hex::encode(rand::random::<[u8; 3]>());
    if slug.is_empty() {
        format!("outbound-{suffix}")
    } else {
        format!("{}-{suffix}", slug.trim_end_matches('-'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> TwilioTrunkInput {
        TwilioTrunkInput {
            name: "Acme Outbound!".into(),
            numbers: vec!["+14155552671".into()],
            domain_name: None,
            account_sid: None,
            auth_token: None,
            calls_per_second: None,
        }
    }

    #[test]
    fn the_default_domain_comes_from_the_name() {
        let spec = input().into_spec().unwrap();
        let label = spec.domain_name.strip_suffix(PSTN_SUFFIX).unwrap();
        assert!(label.starts_with("acme-outbound-"), "{label}");
        assert!(check_label(label).is_ok());
    }

    #[test]
    fn a_given_domain_may_carry_the_suffix_or_not() {
        for given in ["Acme-1", "acme-1.pstn.twilio.com"] {
            let spec = TwilioTrunkInput {
                domain_name: Some(given.into()),
                ..input()
            }
            .into_spec()
            .unwrap();
            assert_eq!(spec.domain_name, "acme-1.pstn.twilio.com");
        }
    }

    #[test]
    fn bad_fields_are_each_reported() {
        let err = TwilioTrunkInput {
            name: " ".into(),
            numbers: vec!["12".into()],
            domain_name: Some("acme_1.example.com".into()),
            account_sid: Some("AC123".into()),
            auth_token: None,
            calls_per_second: Some(0.0),
        }
        .into_spec()
        .unwrap_err();
        let ApiError::Validation(fields) = err else {
            panic!("{err:?}")
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        for expected in [
            "name",
            "numbers[0]",
            "domainName",
            "authToken",
            "callsPerSecond",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
    }
}
