//! A trunk: the way a campaign reaches the phone network (a SIP trunk behind LiveKit, or a
//! Twilio account for Media Streams), parsed and checked before anything stores it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, Validator};
use shared::PhoneNumber;

/// How calls through a trunk reach an agent worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrunkMode {
    /// LiveKit dials the number through its SIP service; the agent joins the room.
    LivekitSip,
    /// Twilio dials the number and streams the audio to a worker over a WebSocket.
    TwilioStream,
}

impl TrunkMode {
    pub const ALL: &'static [TrunkMode] = &[TrunkMode::LivekitSip, TrunkMode::TwilioStream];

    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrunkMode::LivekitSip => "livekit_sip",
            TrunkMode::TwilioStream => "twilio_stream",
        }
    }
}

impl FromStr for TrunkMode {
    type Err = shared::status::UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|mode| mode.as_str() == s)
            .ok_or_else(|| shared::status::UnknownValue {
                kind: "TrunkMode",
                value: s.to_string(),
            })
    }
}

impl fmt::Display for TrunkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an API client sends to create or replace a trunk.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrunkInput {
    pub name: String,
    /// The carrier, free text (`twilio`, `telnyx`, ...).
    pub provider: String,
    /// `livekit_sip` or `twilio_stream`.
    #[schema(value_type = TrunkMode)]
    pub mode: String,
    /// Caller ids calls may come from, in E.164 (`+14155550123`); at least one.
    pub numbers: Vec<String>,
    /// SIP `host[:port]` of the carrier, without `sip:`; required for `livekit_sip`.
    pub address: Option<String>,
    pub auth_username: Option<String>,
    /// Write-only. Omitted or null keeps the stored password on update; `""` removes it.
    pub auth_password: Option<String>,
    /// Calls this trunk may start per second, above 0 and at most 100 (default 1).
    pub calls_per_second: Option<f64>,
    /// Twilio account SID (`AC...`); `twilio_stream` only.
    pub account_sid: Option<String>,
    /// Write-only Twilio auth token; `twilio_stream` only. Omitted or null keeps the stored
    /// token on update; `""` removes it.
    pub auth_token: Option<String>,
}

/// What to do with a stored write-only secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretChange {
    Keep,
    Clear,
    Set(String),
}

/// A validated trunk, ready to store (secrets still in plain text: the caller seals them).
#[derive(Debug, Clone)]
pub struct TrunkSpec {
    pub name: String,
    pub provider: String,
    pub mode: TrunkMode,
    pub numbers: Vec<String>,
    pub address: Option<String>,
    pub auth_username: Option<String>,
    pub auth_password: SecretChange,
    pub calls_per_second: f64,
    pub account_sid: Option<String>,
    pub auth_token: SecretChange,
}

impl TrunkInput {
    /// Validates every field at once and fills in defaults.
    pub fn into_spec(self) -> Result<TrunkSpec, ApiError> {
        let mut v = Validator::new();
        let name = self.name.trim().to_string();
        v.check(!name.is_empty(), "name", "must not be empty")
            .check(name.len() <= 200, "name", "must be at most 200 characters");
        let provider = self.provider.trim().to_string();
        v.check(!provider.is_empty(), "provider", "must not be empty");
        let mode = self.mode.parse::<TrunkMode>().ok();
        v.check(
            mode.is_some(),
            "mode",
            "must be livekit_sip or twilio_stream",
        );

        let numbers = parse_numbers(&mut v, &self.numbers);

        let address = non_empty(self.address);
        match (&address, mode) {
            (Some(address), _) => {
                if let Err(message) = check_sip_address(address) {
                    v.push("address", message);
                }
            }
            (None, Some(TrunkMode::LivekitSip)) => {
                v.push("address", "is required for livekit_sip trunks")
            }
            (None, _) => {}
        }

        let calls_per_second = parse_calls_per_second(&mut v, self.calls_per_second);

        let twilio = mode == Some(TrunkMode::TwilioStream);
        let account_sid = non_empty(self.account_sid);
        if let Some(sid) = &account_sid {
            v.check(twilio, "accountSid", "is only for twilio_stream trunks")
                .check(
                    sid.starts_with("AC") && sid.chars().all(|c| c.is_ascii_alphanumeric()),
                    "accountSid",
                    "must be a Twilio account SID (AC...)",
                );
        }
        let mut auth_token = secret_change(self.auth_token);
        if matches!(auth_token, SecretChange::Set(_)) {
            v.check(twilio, "authToken", "is only for twilio_stream trunks");
        }
        if !twilio {
            // A SIP trunk has no use for a Twilio token; don't keep one from an older mode.
            auth_token = SecretChange::Clear;
        }
        v.finish()?;

        Ok(TrunkSpec {
            name,
            provider,
            mode: mode.unwrap_or(TrunkMode::LivekitSip),
            numbers,
            address,
            auth_username: non_empty(self.auth_username),
            auth_password: secret_change(self.auth_password),
            calls_per_second,
            account_sid,
            auth_token,
        })
    }
}

pub(crate) fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn secret_change(value: Option<String>) -> SecretChange {
    match value {
        None => SecretChange::Keep,
        Some(s) if s.is_empty() => SecretChange::Clear,
        Some(s) => SecretChange::Set(s),
    }
}

/// Caller ids in E.164, at least one, none twice; each bad one is reported by index.
pub(crate) fn parse_numbers(v: &mut Validator, raw_numbers: &[String]) -> Vec<String> {
    v.check(
        !raw_numbers.is_empty(),
        "numbers",
        "must list at least one number",
    );
    let mut numbers: Vec<String> = Vec::with_capacity(raw_numbers.len());
    for (i, raw) in raw_numbers.iter().enumerate() {
        match PhoneNumber::parse(raw, None) {
            Ok(number) if numbers.contains(&number.to_string()) => {
                v.push(&format!("numbers[{i}]"), "is listed twice")
            }
            Ok(number) => numbers.push(number.to_string()),
            Err(err) => v.push(
                &format!("numbers[{i}]"),
                format!("{err} (use E.164, +country...)"),
            ),
        }
    }
    numbers
}

/// Calls per second through a trunk: above 0 and at most 100, 1 by default.
pub(crate) fn parse_calls_per_second(v: &mut Validator, raw: Option<f64>) -> f64 {
    let calls_per_second = raw.unwrap_or(1.0);
    v.check(
        calls_per_second.is_finite() && calls_per_second > 0.0 && calls_per_second <= 100.0,
        "callsPerSecond",
        "must be above 0 and at most 100",
    );
    calls_per_second
}

/// A SIP `host[:port]`: LiveKit adds the scheme itself, so a `sip:` here would be doubled.
fn check_sip_address(address: &str) -> Result<(), &'static str> {
    if address.to_ascii_lowercase().starts_with("sip:")
        || address.to_ascii_lowercase().starts_with("sips:")
    {
        return Err("must be host[:port] without the sip: scheme");
    }
    if address.chars().any(char::is_whitespace) {
        return Err("must not contain spaces");
    }
    let (host, port) = match address.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (address, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !host.starts_with(['.', '-'])
        && !host.ends_with('-');
    if !host_ok {
        return Err("must be a host name or IPv4 address, optionally with :port");
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err("port must be between 1 and 65535"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> TrunkInput {
        TrunkInput {
            name: "Main".into(),
            provider: "twilio".into(),
            mode: "livekit_sip".into(),
            numbers: vec!["+1 415 555 2671".into()],
            address: Some("example.pstn.twilio.com".into()),
            auth_username: None,
            auth_password: None,
            calls_per_second: None,
            account_sid: None,
            auth_token: None,
        }
    }

    #[test]
    fn sip_addresses_are_host_and_optional_port() {
        assert!(check_sip_address("example.pstn.twilio.com").is_ok());
        assert!(check_sip_address("10.0.0.1:5060").is_ok());
        assert!(check_sip_address("sip:example.com").is_err());
        assert!(check_sip_address("example .com").is_err());
        assert!(check_sip_address("example.com:0").is_err());
        assert!(check_sip_address("example.com:99999").is_err());
        assert!(check_sip_address(":5060").is_err());
    }

    #[test]
    fn defaults_are_filled_and_numbers_normalized() {
        let spec = input().into_spec().unwrap();
        assert_eq!(spec.numbers, ["+14155552671"]);
        assert_eq!(spec.calls_per_second, 1.0);
        assert_eq!(spec.auth_password, SecretChange::Keep);
        // A SIP trunk never keeps a Twilio token.
        assert_eq!(spec.auth_token, SecretChange::Clear);
    }

    #[test]
    fn an_empty_secret_clears_and_a_given_one_is_set() {
        let mut trunk = input();
        trunk.auth_password = Some(String::new());
        assert_eq!(
            trunk.into_spec().unwrap().auth_password,
            SecretChange::Clear
        );
        let mut trunk = input();
        trunk.mode = "twilio_stream".into();
        trunk.auth_token = Some("tok".into());
        assert_eq!(
            trunk.into_spec().unwrap().auth_token,
            SecretChange::Set("tok".into())
        );
    }

    #[test]
    fn twilio_fields_on_a_sip_trunk_are_refused() {
        let mut trunk = input();
        trunk.account_sid = Some("AC123".into());
        trunk.auth_token = Some("tok".into());
        let Err(ApiError::Validation(fields)) = trunk.into_spec() else {
            panic!("expected a validation error");
        };
        let named: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(named, ["accountSid", "authToken"]);
    }
}
