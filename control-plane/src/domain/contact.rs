//! Contact lists and contacts as clients send them, parsed into values the database may
//! store: E.164 phones, plausible emails, IANA time zones, string variables.
//!
//! A bad contact row is not an error of the request: it becomes a [`RowRejection`] that
//! the import reports next to the rows that went in.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

use crate::compliance::consent::Consent;
use crate::error::{ApiError, Validator};
use shared::PhoneNumber;

/// What a client sends to create or rename a contact list.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactListInput {
    pub name: String,
    pub description: Option<String>,
}

/// A validated contact list name and description.
#[derive(Debug, Clone)]
pub struct ContactListFields {
    pub name: String,
    pub description: Option<String>,
}

impl ContactListInput {
    pub fn parse(self) -> Result<ContactListFields, ApiError> {
        let name = self.name.trim().to_string();
        let description = self
            .description
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        let mut v = Validator::new();
        v.check(!name.is_empty(), "name", "must not be empty")
            .check(
                name.chars().count() <= 200,
                "name",
                "must be at most 200 characters",
            )
            .check(
                description
                    .as_ref()
                    .is_none_or(|d| d.chars().count() <= 2000),
                "description",
                "must be at most 2000 characters",
            );
        v.finish()?;
        Ok(ContactListFields { name, description })
    }
}

/// One contact in a JSON upload.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactInput {
    /// E.164 (`+14155552671`) or national with `defaultCountry`.
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// IANA time zone such as `America/New_York`.
    pub timezone: Option<String>,
    /// Values for the assistant's `{{placeholders}}`.
    pub variables: Option<BTreeMap<String, String>>,
    /// The consent the operator holds for calling this contact.
    pub consent: Option<ConsentInput>,
}

/// A contact's consent as a client sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentInput {
    /// `written`, `express` or `none`.
    pub kind: String,
    /// Where it was given (a form's URL, a document reference).
    pub source: Option<String>,
    /// When it was given, RFC 3339.
    pub at: Option<String>,
}

/// The raw text of one contact row, borrowed from a CSV record or a JSON item.
#[derive(Debug, Default)]
pub struct ContactFields<'a> {
    pub phone: Option<&'a str>,
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub timezone: Option<&'a str>,
    pub variables: Vec<(&'a str, &'a str)>,
    pub consent_kind: Option<&'a str>,
    pub consent_source: Option<&'a str>,
    pub consent_at: Option<&'a str>,
}

/// A contact that may be stored.
#[derive(Debug, Clone)]
pub struct ParsedContact {
    pub phone: PhoneNumber,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The canonical IANA name.
    pub timezone: Option<String>,
    pub variables: BTreeMap<String, String>,
    pub consent: Option<Consent>,
}

/// Why one row was refused; the phone as far as it is known (normalized if it parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRejection {
    pub phone: Option<String>,
    pub reason: String,
}

impl RowRejection {
    pub fn new(phone: Option<String>, reason: impl Into<String>) -> Self {
        Self {
            phone,
            reason: reason.into(),
        }
    }
}

/// Longest name and email we keep; anything longer is a broken file, not a person.
const MAX_TEXT: usize = 320;

impl ParsedContact {
    /// Validates one row; the first problem found is the reason it is rejected.
    pub fn parse(
        fields: &ContactFields<'_>,
        default_country: Option<&str>,
    ) -> Result<Self, RowRejection> {
        let phone = parse_phone(fields.phone, default_country)?;
        let reject = |reason: String| RowRejection::new(Some(phone.to_string()), reason);
        let name = non_empty(fields.name);
        if name.is_some_and(|n| n.chars().count() > MAX_TEXT) {
            return Err(reject(format!("name is longer than {MAX_TEXT} characters")));
        }
        let email = non_empty(fields.email);
        if let Some(email) = email {
            if !is_plausible_email(email) {
                return Err(reject(format!("invalid email `{}`", clip(email))));
            }
        }
        let timezone = match non_empty(fields.timezone) {
            Some(raw) => Some(
                parse_timezone(raw)
                    .ok_or_else(|| reject(format!("unknown time zone `{}`", clip(raw))))?,
            ),
            None => None,
        };
        let consent = Consent::parse(
            fields.consent_kind,
            fields.consent_source,
            fields.consent_at,
        )
        .map_err(reject)?;
        let variables = fields
            .variables
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        Ok(Self {
            phone,
            name: name.map(str::to_string),
            email: email.map(str::to_string),
            timezone,
            variables,
            consent,
        })
    }
}

/// Normalizes a row's phone to E.164; the rejection carries the raw text for the report.
pub fn parse_phone(
    raw: Option<&str>,
    default_country: Option<&str>,
) -> Result<PhoneNumber, RowRejection> {
    let Some(raw) = non_empty(raw) else {
        return Err(RowRejection::new(None, "missing phone"));
    };
    PhoneNumber::parse(raw, default_country).map_err(|err| {
        let hint = if default_country.is_none() && !raw.starts_with('+') {
            " (no country code: start with + or pass defaultCountry)"
        } else {
            ""
        };
        RowRejection::new(
            Some(clip(raw).to_string()),
            format!("invalid phone: {err}{hint}"),
        )
    })
}

/// Checks an upload's `defaultCountry` (ISO 3166-1 alpha-2) up front, so a typo fails the
/// request instead of every row. Returns it upper-cased; blank means none.
pub fn parse_default_country(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw.map(str::trim).filter(|code| !code.is_empty()) {
        None => Ok(None),
        Some(code) => {
            shared::phone::validate_country(code)
                .map_err(|err| ApiError::invalid("defaultCountry", err.to_string()))?;
            Ok(Some(code.to_ascii_uppercase()))
        }
    }
}

/// The canonical IANA name of `raw`, if it is one chrono-tz knows.
pub fn parse_timezone(raw: &str) -> Option<String> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .ok()
        .map(|tz| tz.name().to_string())
}

/// A deliberately simple check: one `@`, something before it, a dotted domain after it,
/// no spaces. Deliverability is the mail system's business, not the importer's.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
        && domain.split('.').filter(|label| !label.is_empty()).count() >= 2
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Keeps reports readable (and `import_errors` small) when a cell holds a whole novel.
pub fn clip(text: &str) -> &str {
    match text.char_indices().nth(64) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(phone: &'a str) -> ContactFields<'a> {
        ContactFields {
            phone: Some(phone),
            ..ContactFields::default()
        }
    }

    #[test]
    fn a_national_number_is_normalized_with_the_default_country() {
        let contact = ParsedContact::parse(&fields("(415) 555-2671"), Some("US")).unwrap();
        assert_eq!(contact.phone.as_str(), "+14155552671");
    }

    #[test]
    fn a_national_number_without_a_country_is_rejected_with_a_hint() {
        let err = ParsedContact::parse(&fields("4155552671"), None).unwrap_err();
        assert_eq!(err.phone.as_deref(), Some("4155552671"));
        assert!(err.reason.contains("defaultCountry"), "{}", err.reason);
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        let mut row = fields("+14155552671");
        row.timezone = Some("Europe/Paris");
        let ok = ParsedContact::parse(&row, None).unwrap();
        assert_eq!(ok.timezone.as_deref(), Some("Europe/Paris"));
        row.timezone = Some("Mars/Olympus");
        let err = ParsedContact::parse(&row, None).unwrap_err();
        assert_eq!(err.phone.as_deref(), Some("+14155552671"));
        assert!(err.reason.contains("time zone"));
    }

    #[test]
    fn emails_get_a_plausibility_check_only() {
        for good in ["a@b.co", "first.last+tag@mail.example.org"] {
            assert!(is_plausible_email(good), "{good}");
        }
        for bad in [
            "plain", "@b.co", "a@b", "a@@b.co", "a b@c.de", "a@.b.co", "a@b..co",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn empty_cells_are_absent_values() {
        let mut row = fields("+14155552671");
        row.name = Some("  ");
        row.email = Some("");
        let contact = ParsedContact::parse(&row, None).unwrap();
        assert_eq!(contact.name, None);
        assert_eq!(contact.email, None);
    }

    #[test]
    fn consent_cells_are_parsed_and_a_bad_kind_rejects_the_row() {
        let mut row = fields("+14155552671");
        row.consent_kind = Some("written");
        row.consent_source = Some("web form");
        let ok = ParsedContact::parse(&row, None).unwrap();
        assert_eq!(ok.consent.unwrap().source.as_deref(), Some("web form"));
        row.consent_kind = Some("maybe");
        let err = ParsedContact::parse(&row, None).unwrap_err();
        assert!(err.reason.contains("consent kind"), "{}", err.reason);
    }

    #[test]
    fn a_missing_phone_is_rejected() {
        let err = ParsedContact::parse(&fields(" "), Some("US")).unwrap_err();
        assert_eq!(err, RowRejection::new(None, "missing phone"));
    }
}
