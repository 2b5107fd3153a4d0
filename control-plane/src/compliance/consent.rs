//! A contact's consent to be called: its kind, where it came from and when it was given.
//!
//! Under the TCPA (and FCC 24-17 for AI voices) an automated call needs prior express
//! consent, and a telemarketing call prior express *written* consent. The platform cannot
//! check the paperwork: it stores what the operator declares and refuses to dial a
//! telemarketing campaign's contact unless the declared kind is `written`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The kinds of consent a contact may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// Prior express written consent (signed, naming the number): telemarketing may call.
    Written,
    /// Prior express consent (the callee gave the number for this purpose).
    Express,
    /// Known not to have consented.
    None,
}

impl ConsentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Written => "written",
            Self::Express => "express",
            Self::None => "none",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "written" => Some(Self::Written),
            "express" => Some(Self::Express),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// A contact's consent as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub kind: ConsentKind,
    /// Where it was given (a web form's URL, "paper form 2024-113", ...).
    pub source: Option<String>,
    /// When it was given.
    pub at: Option<DateTime<Utc>>,
}

/// Longest consent source kept.
const MAX_SOURCE: usize = 500;

impl Consent {
    /// Parses the three cells (or JSON fields) of a consent; all empty means none was
    /// declared. A source or time without a kind is refused: the kind is what dialing
    /// depends on.
    pub fn parse(
        kind: Option<&str>,
        source: Option<&str>,
        at: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let (kind, source, at) = (blank(kind), blank(source), blank(at));
        let Some(kind) = kind else {
            if source.is_some() || at.is_some() {
                return Err("consent source or time given without a consent kind".into());
            }
            return Ok(None);
        };
        let kind = ConsentKind::parse(kind).ok_or_else(|| {
            format!(
                "unknown consent kind `{}` (written, express or none)",
                crate::domain::contact::clip(kind)
            )
        })?;
        if source.is_some_and(|s| s.chars().count() > MAX_SOURCE) {
            return Err(format!(
                "consent source is longer than {MAX_SOURCE} characters"
            ));
        }
        let at = match at {
            Some(raw) => Some(
                DateTime::parse_from_rfc3339(raw)
                    .map_err(|_| {
                        format!(
                            "consent time `{}` is not an RFC 3339 time such as 2026-01-31T12:00:00Z",
                            crate::domain::contact::clip(raw)
                        )
                    })?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        Ok(Some(Self {
            kind,
            source: source.map(str::to_string),
            at,
        }))
    }
}

fn blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Why a campaign may not dial a contact with this consent kind; `None` when it may.
pub fn refusal(telemarketing: bool, kind: Option<&str>) -> Option<&'static str> {
    let written = kind.and_then(ConsentKind::parse) == Some(ConsentKind::Written);
    (telemarketing && !written)
        .then_some("telemarketing needs the contact's prior express written consent")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_consent_parses() {
        let c = Consent::parse(
            Some("Written"),
            Some("https://example.com/form"),
            Some("2026-01-31T12:00:00Z"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.kind, ConsentKind::Written);
        assert_eq!(c.at.unwrap().to_rfc3339(), "2026-01-31T12:00:00+00:00");
    }

    #[test]
    fn empty_cells_declare_nothing_and_bad_ones_say_why() {
        assert_eq!(Consent::parse(None, Some(" "), None).unwrap(), None);
        assert!(Consent::parse(Some("verbal"), None, None)
            .unwrap_err()
            .contains("unknown consent kind"));
        assert!(Consent::parse(Some("written"), None, Some("yesterday"))
            .unwrap_err()
            .contains("RFC 3339"));
        assert!(Consent::parse(None, Some("form"), None)
            .unwrap_err()
            .contains("without a consent kind"));
    }

    #[test]
    fn telemarketing_dials_written_consent_only() {
        assert_eq!(refusal(true, Some("written")), None);
        assert!(refusal(true, Some("express")).is_some());
        assert!(refusal(true, None).is_some());
        assert_eq!(refusal(false, None), None);
    }
}
