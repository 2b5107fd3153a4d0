//! The create-call request's form fields, checked as Twilio checks them.

use crate::twilio::error::TwilioError;
use crate::twilio::store::Source;

/// Answering machine detection as requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Amd {
    /// `DetectMessageEnd` waits for the beep; `Enable` answers at the first guess.
    pub detect_message_end: bool,
    /// `AsyncAmd=true`: TwiML runs at once and the verdict is posted separately.
    pub asynchronous: bool,
    pub callback: Option<String>,
    pub callback_method: String,
    /// `MachineDetectionTimeout`, seconds.
    pub timeout_s: u64,
}

/// A validated create request.
#[derive(Debug, Clone)]
pub(crate) struct CallParams {
    pub to: String,
    pub from: String,
    pub source: Source,
    pub status_callback: Option<String>,
    pub status_method: String,
    /// Lower-case event names: initiated, ringing, answered, completed.
    pub status_events: Vec<String>,
    pub amd: Option<Amd>,
    /// Ring time before no-answer, seconds.
    pub timeout_s: u64,
    /// Longest call, seconds.
    pub time_limit_s: u64,
    /// `outbound-api` for calls created over REST, `inbound` for calls to a number.
    pub direction: String,
}

impl CallParams {
    /// Checks the form: 21201/21211 for To, 21213 for From, 21205 for Url/Twiml.
    pub(crate) fn parse(form: &[(String, String)]) -> Result<Self, TwilioError> {
        let get = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let to = get("To")
            .ok_or_else(|| TwilioError::bad_request(21201, "No 'To' number is specified"))?;
        if !is_e164(&to) {
            return Err(TwilioError::bad_request(
                21211,
                format!("Invalid 'To' Phone Number: {to}"),
            ));
        }
        let from = get("From")
            .ok_or_else(|| TwilioError::bad_request(21213, "No 'From' number is specified"))?;
        let method = |name: &str| get(name).unwrap_or_else(|| "POST".into()).to_uppercase();
        let source = match (get("Twiml"), get("Url")) {
            (Some(twiml), _) => Source::Inline(twiml),
            (None, Some(url)) if is_http(&url) => Source::Url {
                url,
                method: method("Method"),
            },
            (None, Some(url)) => {
                return Err(TwilioError::bad_request(
                    21205,
                    format!("Url is not a valid URL: {url}"),
                ))
            }
            (None, None) => {
                return Err(TwilioError::bad_request(
                    21205,
                    "Either Url, Twiml or ApplicationSid is required",
                ))
            }
        };
        let status_callback = get("StatusCallback");
        let mut status_events: Vec<String> = form
            .iter()
            .filter(|(k, _)| k == "StatusCallbackEvent")
            .flat_map(|(_, v)| v.split_whitespace().map(str::to_lowercase))
            .collect();
        if status_events.is_empty() {
            status_events.push("completed".into());
        }
        let amd = get("MachineDetection").map(|mode| Amd {
            detect_message_end: mode.eq_ignore_ascii_case("DetectMessageEnd"),
            asynchronous: get("AsyncAmd").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            callback: get("AsyncAmdStatusCallback"),
            callback_method: method("AsyncAmdStatusCallbackMethod"),
            timeout_s: number(get("MachineDetectionTimeout"), 30),
        });
        Ok(CallParams {
            to,
            from,
            source,
            status_callback,
            status_method: method("StatusCallbackMethod"),
            status_events,
            amd,
            timeout_s: number(get("Timeout"), 60),
            time_limit_s: number(get("TimeLimit"), 4 * 3600),
            direction: "outbound-api".into(),
        })
    }

    /// Whether the product asked for this status event.
    pub(crate) fn wants(&self, event: &str) -> bool {
        self.status_callback.is_some() && self.status_events.iter().any(|e| e == event)
    }
}

fn number(value: Option<String>, default: u64) -> u64 {
    value.and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `+` then 2 to 15 digits, the first not 0.
pub(crate) fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn is_http(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn repeated_and_space_separated_status_events_are_both_understood() {
        let params = CallParams::parse(&form(&[
            ("To", "+15551230001"),
            ("From", "+15550000000"),
            ("Twiml", "<Response/>"),
            ("StatusCallback", "http://x/status"),
            ("StatusCallbackEvent", "initiated ringing"),
            ("StatusCallbackEvent", "answered"),
        ]))
        .expect("valid");
        assert!(params.wants("initiated") && params.wants("ringing") && params.wants("answered"));
        assert!(!params.wants("completed"));
    }

    #[test]
    fn a_to_that_is_not_e164_is_21211_and_missing_twiml_is_21205() {
        let bad_to = CallParams::parse(&form(&[
            ("To", "5551230001"),
            ("From", "+1"),
            ("Url", "http://x"),
        ]));
        assert_eq!(bad_to.map(|_| ()).map_err(|e| e.code), Err(21211));
        let no_twiml =
            CallParams::parse(&form(&[("To", "+15551230001"), ("From", "+15550000000")]));
        assert_eq!(no_twiml.map(|_| ()).map_err(|e| e.code), Err(21205));
    }
}
