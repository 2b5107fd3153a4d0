//! E.164 phone numbers, parsed once at the edge so the inside only sees valid numbers.

use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use validity::Validator;

mod database;
mod validity;

/// Why a string is not a dialable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("unknown default country `{0}` (expected an ISO 3166-1 alpha-2 code such as US)")]
    UnknownCountry(String),
    #[error("not a phone number: {0}")]
    Unparseable(String),
    #[error("not a valid number for its country")]
    Invalid,
}

/// A valid phone number in E.164 form (`+14155550123`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number written by a person. Numbers without a leading `+` are read as
    /// national numbers of `default_country` (ISO 3166-1 alpha-2, e.g. `US`).
    pub fn parse(raw: &str, default_country: Option<&str>) -> Result<Self, PhoneError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(PhoneError::Empty);
        }
        let country = match default_country {
            Some(code) => Some(parse_country(code)?),
            None => None,
        };
        // A number written with `+` carries its own country: the default country is only
        // for national numbers. Given both, the parser judged `+78110000000` valid under
        // `SG` and invalid on its own, so the stored E.164 failed to parse again at dial
        // time (found by `./dev fuzz`'s million-case run).
        let country = if raw.starts_with('+') { None } else { country };
        THREAD_VALIDATOR.with(|validator| parse_with(validator, country, raw))
    }

    /// The E.164 text, `+` and digits only.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ISO 3166-1 alpha-2 region of the number, when its metadata names one.
    pub fn region(&self) -> Option<String> {
        THREAD_VALIDATOR.with(|validator| {
            let database = validator.database();
            let parsed = phonenumber::parse_with(database, None, &self.0).ok()?;
            let id: phonenumber::country::Id = parsed.metadata(database)?.id().parse().ok()?;
            Some(id.as_ref().to_string())
        })
    }

    /// A form safe for logs: the country code and the last two digits only.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks any phone-like text for logs, keeping a short prefix and the last two digits.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 5))
}

/// Masks every phone-like run in free text (a provider's error message, say) for logs: a
/// run of seven or more digits, with an optional leading `+` and the separators people
/// write inside numbers (space, `-`, `.`, `(`, `)`), keeps its first three and last two
/// characters.
pub fn mask_numbers_in(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if !starts {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The longest run of digits and separators, ending on a digit.
        let mut end = i + 1;
        let mut last_digit = i;
        while end < chars.len() && (chars[end].is_ascii_digit() || " -.()".contains(chars[end])) {
            if chars[end].is_ascii_digit() {
                last_digit = end;
            }
            end += 1;
        }
        let run: String = chars[i..=last_digit].iter().collect();
        if run.chars().filter(char::is_ascii_digit).count() >= 7 {
            out.push_str(&mask(&run));
        } else {
            out.push_str(&run);
        }
        i = last_digit + 1;
    }
    out
}

/// Parses and validates `raw` against the validator's database, giving the E.164 form:
/// the library's `parse` with the database passed in, then its `is_valid` (see
/// [`validity`]).
fn parse_with(
    validator: &Validator,
    country: Option<phonenumber::country::Id>,
    raw: &str,
) -> Result<PhoneNumber, PhoneError> {
    let parsed = phonenumber::parse_with(validator.database(), country, raw)
        .map_err(|err| PhoneError::Unparseable(err.to_string()))?;
    if !validator.is_valid(&parsed) {
        return Err(PhoneError::Invalid);
    }
    // What the library's E.164 `format()` writes, `+`, the calling code and the national
    // number, without the national format it looks up first (regex matches over the
    // region's formats) and then ignores in E.164 mode. The test below checks it against
    // `format()` on every example number.
    Ok(PhoneNumber(format!(
        "+{}{}",
        parsed.country().code(),
        parsed.national()
    )))
}

thread_local! {
    /// This thread's own copy of the library's metadata (see [`database`]) and its
    /// validity patterns, compiled as this thread first needs them.
    static THREAD_VALIDATOR: Validator = Validator::new(database::private_database());
}

fn parse_country(code: &str) -> Result<phonenumber::country::Id, PhoneError> {
    thread_local! {
        /// The last code read on this thread and what it meant. An import passes the
        /// same default country with every row, and the library's `from_str` compares
        /// the text with each of its ~250 names (4% of an import's CPU).
        static LAST: RefCell<Option<(String, phonenumber::country::Id)>> =
            const { RefCell::new(None) };
    }
    let cached = LAST.with_borrow(|last| match last {
        Some((text, id)) if text == code => Some(*id),
        _ => None,
    });
    if let Some(id) = cached {
        return Ok(id);
    }
    let id = phonenumber::country::Id::from_str(&code.trim().to_ascii_uppercase())
        .map_err(|_| PhoneError::UnknownCountry(code.to_string()))?;
    LAST.set(Some((code.to_string(), id)));
    Ok(id)
}

/// Checks a default-country code without parsing a number.
pub fn validate_country(code: &str) -> Result<(), PhoneError> {
    parse_country(code).map(|_| ())
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Debug output is masked so that a stray `{:?}` never leaks a number into the logs.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value, None)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use phonenumber::metadata::{Descriptor, Metadata};

    use super::*;

    #[test]
    fn national_numbers_use_the_default_country() {
        let n = PhoneNumber::parse("(415) 555-2671", Some("us")).unwrap();
        assert_eq!(n.as_str(), "+14155552671");
        assert_eq!(n.region().as_deref(), Some("US"));
    }

    #[test]
    fn international_numbers_ignore_the_default_country() {
        let n = PhoneNumber::parse("+44 20 7946 0958", Some("US")).unwrap();
        assert_eq!(n.as_str(), "+442079460958");
        // The million-case fuzz run's find: valid under `SG`, invalid on its own. What is
        // accepted must parse again from its stored form.
        assert_eq!(
            PhoneNumber::parse("+78110000000", Some("SG")),
            PhoneNumber::parse("+78110000000", None)
        );
    }

    #[test]
    fn the_default_country_remembered_per_thread_is_the_one_given() {
        let national = "020 7946 0958";
        assert!(PhoneNumber::parse(national, Some("US")).is_err());
        assert_eq!(
            PhoneNumber::parse(national, Some("gb")).unwrap().as_str(),
            "+442079460958"
        );
        assert!(PhoneNumber::parse(national, Some("US")).is_err());
        assert!(matches!(
            PhoneNumber::parse(national, Some("UK")),
            Err(PhoneError::UnknownCountry(_))
        ));
        assert!(PhoneNumber::parse(national, Some(" GB ")).is_ok());
    }

    #[test]
    fn garbage_and_short_numbers_are_refused() {
        assert!(PhoneNumber::parse("hello", Some("US")).is_err());
        assert_eq!(PhoneNumber::parse("  ", Some("US")), Err(PhoneError::Empty));
        assert_eq!(
            PhoneNumber::parse("+1 555 01", None),
            Err(PhoneError::Invalid)
        );
        assert!(matches!(
            PhoneNumber::parse("4155552671", Some("XX")),
            Err(PhoneError::UnknownCountry(_))
        ));
    }

    /// The library's own answer: its default database, `is_valid` and E.164 `format()`.
    fn library_parse(
        country: Option<phonenumber::country::Id>,
        raw: &str,
    ) -> Result<PhoneNumber, PhoneError> {
        let parsed = phonenumber::parse(country, raw)
            .map_err(|err| PhoneError::Unparseable(err.to_string()))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(PhoneError::Invalid);
        }
        Ok(PhoneNumber(
            parsed.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// The per-thread copy of the metadata and its compiled validity patterns must answer
    /// exactly as the library's default database: DNC matching and dialing depend on every
    /// number's E.164 form. Every
    /// example number of every region and type, written several ways (national, with
    /// `+` and its code, a digit short, a digit long, with a leading 0 or `00`), with no
    /// default country and with its own, a neighbour's and `US`.
    #[test]
    fn the_thread_copy_of_the_metadata_answers_as_the_library_does() {
        let default = &*phonenumber::metadata::DATABASE;
        let copy = Validator::new(database::private_database());
        assert!(
            !std::sync::Arc::ptr_eq(&default.cache(), &copy.database().cache()),
            "the copy fell back to the shared database"
        );
        // Every entry, the non-geographic ones (all `001`) too.
        let metas: Vec<&Metadata> = (1..1000)
            .filter_map(|code| default.by_code(&code))
            .flatten()
            .collect();
        let ids: Vec<&str> = metas.iter().map(|meta| meta.id()).collect();
        let countries = [None, parse_country("US").ok()];
        let mut checked = 0;
        let mut valid = 0;
        for (index, meta) in metas.iter().enumerate() {
            let own = parse_country(meta.id()).ok();
            let neighbour = parse_country(ids[(index + 1) % ids.len()]).ok();
            let descriptors = meta.descriptors();
            let examples = [
                Some(descriptors.general()),
                descriptors.fixed_line(),
                descriptors.mobile(),
                descriptors.toll_free(),
                descriptors.premium_rate(),
                descriptors.voip(),
                descriptors.uan(),
            ];
            for example in examples
                .into_iter()
                .flatten()
                .filter_map(Descriptor::example)
                .filter(|e| !e.is_empty())
            {
                let code = meta.country_code();
                let writings = [
                    example.to_string(),
                    format!("+{code}{example}"),
                    format!("+{code} {}", &example[..example.len() - 1]),
                    format!("{example}7"),
                    format!("0{example}"),
                    format!("00{code}{example}"),
                ];
                for raw in &writings {
                    for country in countries.iter().copied().chain([own, neighbour]) {
                        let expected = library_parse(country, raw);
                        assert_eq!(
                            parse_with(&copy, country, raw),
                            expected,
                            "{raw} in {country:?}"
                        );
                        checked += 1;
                        valid += usize::from(expected.is_ok());
                    }
                }
            }
        }
        assert!(
            checked > 10_000 && valid > 1_000,
            "{checked} checked, {valid} valid"
        );
        // Through the public entry point, on this thread's copy.
        let region = PhoneNumber::parse("+442079460958", None).unwrap().region();
        assert_eq!(region.as_deref(), Some("GB"));
    }

    #[test]
    fn numbers_inside_text_are_masked_and_other_digits_kept() {
        let text = "The 'To' number +1 (415) 555-2671 is not valid; error 21211 at 12:30";
        let masked = mask_numbers_in(text);
        assert!(!masked.contains("555-2671"), "{masked}");
        assert!(
            masked.contains("+1 ") && masked.ends_with("error 21211 at 12:30"),
            "{masked}"
        );
        assert_eq!(mask_numbers_in("+14155552671"), "+14*******71");
        assert_eq!(
            mask_numbers_in("no digits, just words"),
            "no digits, just words"
        );
    }

    #[test]
    fn masked_numbers_keep_only_prefix_and_last_two_digits() {
        let n = PhoneNumber::parse("+14155552671", None).unwrap();
        assert_eq!(n.masked(), "+14*******71");
        assert!(!format!("{n:?}").contains("5552"));
    }
}
