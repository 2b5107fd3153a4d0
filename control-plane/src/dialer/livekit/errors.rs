//! LiveKit's answers in the engine's terms: a failed `CreateSIPParticipant` carries the
//! callee's SIP status in the Twirp error's `meta.sip_status_code`, which decides whether
//! the attempt was busy, declined, unanswered or an invalid number.

use livekit_api::services::{ServerError, ServiceError, SipCallError};
use shared::AttemptResult;

use crate::dialer::DialError;

/// The SIP status of a failed dial as the engine acts on it.
pub(super) fn sip_failure(code: Option<i32>, twirp_code: &str, detail: String) -> DialError {
    let ended = |result| DialError::Ended {
        result,
        detail: detail.clone(),
    };
    match code {
        Some(486 | 600) => ended(AttemptResult::Busy),
        Some(603) => ended(AttemptResult::Declined),
        Some(480 | 408 | 487) => ended(AttemptResult::NoAnswer),
        Some(404 | 484 | 604) => DialError::InvalidNumber(detail.clone()),
        Some(_) => DialError::Refused(detail.clone()),
        // livekit-sip gives up after `ringing_timeout` without a final SIP answer.
        None if matches!(twirp_code, "deadline_exceeded" | "canceled") => {
            ended(AttemptResult::NoAnswer)
        }
        None => DialError::Refused(detail.clone()),
    }
}

/// Any LiveKit API error as a `DialError`. `placing` says whether the request was the one
/// that places the call: an answer lost on the way back then means the call may exist.
pub(super) fn dial_error(err: ServiceError, placing: bool) -> DialError {
    if let Some(sip) = SipCallError::from_error(&err) {
        return sip_failure(sip.sip_status_code(), sip.code(), sip.to_string());
    }
    match err {
        ServiceError::Twirp(ServerError::Request(request)) if request.is_connect() => {
            DialError::NotSent(request.to_string())
        }
        // LiveKit answers a token it cannot verify with a plain-text 401, which the SDK
        // fails to read as a Twirp error: the only non-Twirp error body LiveKit sends.
        ServiceError::Twirp(ServerError::Request(request)) if request.is_decode() => {
            DialError::BadCredentials(format!(
                "LiveKit refused the request without a Twirp error (a wrong livekit.api_key or \
                 livekit.api_secret gets a plain-text 401): {request}"
            ))
        }
        ServiceError::Twirp(ServerError::Request(request)) if placing => {
            DialError::Unknown(request.to_string())
        }
        ServiceError::Twirp(ServerError::Twirp(twirp)) => match twirp.code.as_str() {
            "unauthenticated" | "permission_denied" => {
                DialError::BadCredentials(format!("{}: {}", twirp.code, twirp.msg))
            }
            // "sip not connected", "no response from servers": nothing was dialed.
            "unavailable" => DialError::NotSent(format!("{}: {}", twirp.code, twirp.msg)),
            "deadline_exceeded" | "canceled" if placing => DialError::Ended {
                result: AttemptResult::NoAnswer,
                detail: format!("{}: {}", twirp.code, twirp.msg),
            },
            _ => DialError::Refused(format!("{}: {}", twirp.code, twirp.msg)),
        },
        other => DialError::Refused(other.to_string()),
    }
}

/// Whether LiveKit says the thing asked about does not exist.
pub(super) fn is_not_found(err: &ServiceError) -> bool {
    matches!(err, ServiceError::Twirp(ServerError::Twirp(twirp)) if twirp.code == "not_found")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result_of(code: i32) -> Option<AttemptResult> {
        match sip_failure(Some(code), "unknown", String::new()) {
            DialError::Ended { result, .. } => Some(result),
            DialError::InvalidNumber(_) => Some(AttemptResult::InvalidNumber),
            DialError::Refused(_) => Some(AttemptResult::Failed),
            _ => None,
        }
    }

    #[test]
    fn sip_answers_map_to_the_attempt_results_the_retry_rules_know() {
        assert_eq!(result_of(486), Some(AttemptResult::Busy));
        assert_eq!(result_of(600), Some(AttemptResult::Busy));
        assert_eq!(result_of(603), Some(AttemptResult::Declined));
        for no_answer in [480, 408, 487] {
            assert_eq!(result_of(no_answer), Some(AttemptResult::NoAnswer));
        }
        for invalid in [404, 484, 604] {
            assert_eq!(result_of(invalid), Some(AttemptResult::InvalidNumber));
        }
        assert_eq!(result_of(503), Some(AttemptResult::Failed));
        assert_eq!(result_of(403), Some(AttemptResult::Failed));
    }

    #[test]
    fn a_ring_timeout_without_a_sip_answer_is_no_answer() {
        assert!(matches!(
            sip_failure(None, "deadline_exceeded", String::new()),
            DialError::Ended {
                result: AttemptResult::NoAnswer,
                ..
            }
        ));
        assert!(matches!(
            sip_failure(None, "internal", String::new()),
            DialError::Refused(_)
        ));
    }
}
