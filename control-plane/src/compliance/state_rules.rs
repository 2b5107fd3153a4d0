//! US state calling rules stricter than the federal window, kept as data with their legal
//! source in `state_rules.json` (read once, checked by the tests below).
//!
//! A callee is placed in a state by the area code of a +1 number: the Florida and Oklahoma
//! acts presume exactly that. Numbers of other area codes, and numbers outside +1, get no
//! state rule: the federal window (`engine::window`) still applies to them.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono_tz::Tz;
use serde::Deserialize;
use shared::PhoneNumber;

/// One state's rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateRule {
    /// Two-letter postal code.
    pub state: String,
    pub name: String,
    /// First hour calls may start, callee-local.
    pub start_hour: u32,
    /// Calls must start before this hour, callee-local.
    pub end_hour: u32,
    /// Most calls of one campaign to one number in any 24 hours.
    pub max_calls_per24h: Option<u32>,
    /// The zones of the state, for callees without a zone of their own.
    zones: Vec<String>,
    area_codes: Vec<String>,
    /// The statute, for decisions and the docs.
    pub source: String,
    pub url: String,
}

impl StateRule {
    /// The zones the state's callees may be in.
    pub fn zones(&self) -> Vec<Tz> {
        self.zones.iter().filter_map(|z| z.parse().ok()).collect()
    }
}

#[derive(Deserialize)]
struct RulesFile {
    rules: Vec<StateRule>,
}

struct Rules {
    all: Vec<StateRule>,
    /// Area code -> index in `all`.
    by_area_code: HashMap<String, usize>,
}

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    // The file ships inside the binary and a unit test parses it: a broken edit fails the
    // build's tests, never a running engine. Should it fail anyway, no state rule applies
    // and the federal window still does.
    let file: RulesFile = serde_json::from_str(include_str!("state_rules.json"))
        .unwrap_or(RulesFile { rules: Vec::new() });
    let mut by_area_code = HashMap::new();
    for (i, rule) in file.rules.iter().enumerate() {
        for code in &rule.area_codes {
            by_area_code.insert(code.clone(), i);
        }
    }
    Rules {
        all: file.rules,
        by_area_code,
    }
});

/// Every rule, for the docs and the API.
pub fn all() -> &'static [StateRule] {
    &RULES.all
}

/// The rule of the state the number's area code belongs to, if that state has one.
pub fn for_number(phone: &PhoneNumber) -> Option<&'static StateRule> {
    let area_code = us_area_code(phone.as_str())?;
    RULES.by_area_code.get(area_code).map(|&i| &RULES.all[i])
}

/// The area code of a +1 (NANP) number in E.164.
fn us_area_code(e164: &str) -> Option<&str> {
    let national = e164.strip_prefix("+1")?;
    (national.len() == 10).then(|| &national[..3])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> PhoneNumber {
        PhoneNumber::parse(raw, None).unwrap()
    }

    #[test]
    fn the_rules_file_parses_and_every_rule_cites_its_source() {
        let file: RulesFile = serde_json::from_str(include_str!("state_rules.json")).unwrap();
        assert!(file.rules.len() >= 3);
        for rule in &file.rules {
            assert!(rule.source.len() > 40, "{} cites nothing", rule.state);
            assert!(rule.url.starts_with("http"), "{}", rule.state);
            assert!(
                rule.start_hour >= 8 && rule.end_hour <= 21,
                "{}",
                rule.state
            );
            assert!(rule.start_hour < rule.end_hour);
            assert_eq!(rule.zones().len(), rule.zones.len(), "{}", rule.state);
            for code in &rule.area_codes {
                assert!(code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }

    #[test]
    fn no_area_code_belongs_to_two_states() {
        let mut seen = HashMap::new();
        for rule in all() {
            for code in &rule.area_codes {
                assert_eq!(
                    seen.insert(code.clone(), rule.state.clone()),
                    None,
                    "{code}"
                );
            }
        }
    }

    #[test]
    fn a_florida_number_gets_the_florida_rule() {
        let rule = for_number(&phone("+13055550142")).unwrap();
        assert_eq!(rule.state, "FL");
        assert_eq!((rule.start_hour, rule.end_hour), (8, 20));
        assert_eq!(rule.max_calls_per24h, Some(3));
        assert_eq!(for_number(&phone("+19185550142")).unwrap().state, "OK");
        assert_eq!(for_number(&phone("+14105550142")).unwrap().state, "MD");
    }

    #[test]
    fn numbers_of_other_states_and_countries_get_no_rule() {
        assert!(for_number(&phone("+12125550142")).is_none(), "New York");
        assert!(for_number(&phone("+442079460958")).is_none(), "London");
    }
}
