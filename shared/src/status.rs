//! The one spelling of every call status, attempt result and call outcome.
//!
//! Twilio says `no-answer`, LiveKit says `resource_exhausted`; inside the product and on
//! the wire of our own API it is always `no_answer`, `busy`, and so on.

/// Declares a string-backed enum with `as_str`, `FromStr`, `Display` and `ALL`, serialized
/// in snake_case. Exported so every crate spells its status-like enums the same way (the
/// using crate needs `serde` and `utoipa` as dependencies).
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and database spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::status::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::status::UnknownValue { kind: stringify!($name), value: other.to_string() }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A string that names no value of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

crate::text_enum!(
    /// Where a call is in its life. Moves forward only (see [`CallStatus::rank`]).
    CallStatus {
        Queued => "queued",
        Initiated => "initiated",
        Ringing => "ringing",
        InProgress => "in_progress",
        Completed => "completed",
        Busy => "busy",
        NoAnswer => "no_answer",
        Failed => "failed",
        Canceled => "canceled",
    }
);

impl CallStatus {
    /// Position in the life cycle; a status update with a lower rank than the current one
    /// is stale (callbacks arrive out of order) and is ignored.
    pub fn rank(self) -> u8 {
        match self {
            CallStatus::Queued => 0,
            CallStatus::Initiated => 1,
            CallStatus::Ringing => 2,
            CallStatus::InProgress => 3,
            _ => 4,
        }
    }

    /// The call is over and will not change status again.
    pub fn is_terminal(self) -> bool {
        self.rank() == 4
    }
}

crate::text_enum!(
    /// How one dial attempt of a campaign ended; drives the retry policy.
    AttemptResult {
        Answered => "answered",
        Busy => "busy",
        NoAnswer => "no_answer",
        Voicemail => "voicemail",
        Failed => "failed",
        Declined => "declined",
        InvalidNumber => "invalid_number",
        NoWorker => "no_worker",
        Canceled => "canceled",
    }
);

crate::text_enum!(
    /// What the conversation achieved, set by the agent or by an operator.
    CallOutcome {
        Interested => "interested",
        NotInterested => "not_interested",
        Callback => "callback",
        DoNotCall => "do_not_call",
        Voicemail => "voicemail",
        WrongNumber => "wrong_number",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_spelling() {
        for s in CallStatus::ALL {
            assert_eq!(s.as_str().parse::<CallStatus>().unwrap(), *s);
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for r in AttemptResult::ALL {
            assert_eq!(r.as_str().parse::<AttemptResult>().unwrap(), *r);
        }
        for o in CallOutcome::ALL {
            assert_eq!(o.as_str().parse::<CallOutcome>().unwrap(), *o);
        }
    }

    #[test]
    fn terminal_statuses_outrank_live_ones() {
        assert!(CallStatus::Completed.rank() > CallStatus::InProgress.rank());
        assert!(CallStatus::Ringing.rank() > CallStatus::Initiated.rank());
        assert!(CallStatus::NoAnswer.is_terminal());
        assert!(!CallStatus::Ringing.is_terminal());
        assert!("no-answer".parse::<CallStatus>().is_err());
    }
}
