//! Whether a parsed number is valid: the library's `is_valid_with`, answered with the
//! metadata's own patterns compiled once per thread instead of through its regex cache.
//!
//! The library's `CachedRegex` looks every pattern up in an LRU map keyed by the pattern's
//! source text on each use: a lock, SipHash over hundreds of bytes to kilobytes of text,
//! twice, and a list update, about a dozen times per number. In `./dev bench import` the
//! library's `is_valid` was 35% of the control plane's CPU samples, most of it that cache
//! (its `parse`, 28%, still goes through it). Here each metadata entry's patterns are
//! compiled on their first use on a thread, from the same text with the same options, and
//! kept next to the database they came from. The steps are the library's (`validator::is_valid_with`, `source_for`,
//! `number_type`, `Descriptor::is_match` in phonenumber 0.3.10); the tests compare the
//! answers with the library's on every region's example numbers and on random ones.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use phonenumber::metadata::{Database, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};

/// A metadata database and the patterns of its entries compiled so far on this thread.
pub(super) struct Validator {
    database: Database,
    /// By the address of the entry in `database` (its entries never move or change), so
    /// no text is hashed to find them.
    compiled: RefCell<HashMap<usize, Rc<Entry>>>,
}

/// One metadata entry's patterns, as `source_for` and `number_type` use them, each part
/// compiled when first needed: a number of a code shared by many regions (+1 has 25) is
/// matched against most regions' `leading_digits` only. `None` inside: a pattern that did
/// not compile here, so the library's own answers (none in the shipped metadata; a test
/// checks).
#[derive(Default)]
struct Entry {
    /// Which of a shared calling code's regions a number belongs to.
    leading_digits: OnceCell<Option<Regex>>,
    types: OnceCell<Option<Types>>,
}

/// The general descriptor's pattern and those of [`type_descriptors`].
struct Types {
    general: Pattern,
    types: Vec<Pattern>,
}

/// A descriptor's `national_number` pattern and its `possible_length`.
struct Pattern {
    regex: Regex,
    possible_length: Vec<u16>,
}

impl Validator {
    pub(super) fn new(database: Database) -> Self {
        Self {
            database,
            compiled: RefCell::new(HashMap::new()),
        }
    }

    pub(super) fn database(&self) -> &Database {
        &self.database
    }

    /// The library's `is_valid_with(self.database(), number)`.
    pub(super) fn is_valid(&self, number: &phonenumber::PhoneNumber) -> bool {
        let code = number.country().code();
        let national = number.national().to_string();
        let Some(source) = self.source_for(code, &national) else {
            return false;
        };
        let meta = match source {
            Source::Region(region) => self.database.by_id(region.as_ref()),
            Source::Code(code) => self
                .database
                .by_code(&code)
                .and_then(|metas| metas.into_iter().next()),
        };
        meta.is_some_and(|meta| self.is_known_type(meta, &national))
    }

    /// The library's `validator::source_for`: the region whose metadata judges a number
    /// of calling code `code`.
    fn source_for(&self, code: u16, national: &str) -> Option<Source> {
        let regions = self.database.region(&code)?;
        if let [region] = regions[..] {
            return if region == "001" {
                Some(Source::Code(code))
            } else {
                region.parse().ok().map(Source::Region)
            };
        }
        for region in regions {
            // The library unwraps both: every region listed for a code has an entry and
            // an id it can read.
            let meta = self.database.by_id(region)?;
            let found = match meta.leading_digits() {
                Some(library) => match self.entry(meta).leading_digits(meta) {
                    Some(regex) => starts_match(regex, national),
                    None => library.find(national).is_some_and(|m| m.start() == 0),
                },
                None => self.is_known_type(meta, national),
            };
            if found {
                return region.parse().ok().map(Source::Region);
            }
        }
        None
    }

    /// Whether the library's `number_type(meta, national)` is not `Type::Unknown`.
    fn is_known_type(&self, meta: &Metadata, national: &str) -> bool {
        match self.entry(meta).types(meta) {
            Some(types) => types.is_known_type(national),
            None => library_known_type(meta, national),
        }
    }

    /// The patterns of `meta`, an entry of this validator's database.
    fn entry(&self, meta: &Metadata) -> Rc<Entry> {
        let key = std::ptr::from_ref(meta) as usize;
        Rc::clone(self.compiled.borrow_mut().entry(key).or_default())
    }
}

/// What `source_for` found: a region, or a non-geographic calling code's own entry.
enum Source {
    Region(phonenumber::country::Id),
    Code(u16),
}

impl Entry {
    /// `meta`'s `leading_digits`, if it has one that compiles here.
    fn leading_digits(&self, meta: &Metadata) -> Option<&Regex> {
        self.leading_digits
            .get_or_init(|| {
                meta.leading_digits()
                    .and_then(|regex| compile(regex.as_str()))
            })
            .as_ref()
    }

    fn types(&self, meta: &Metadata) -> Option<&Types> {
        self.types.get_or_init(|| Types::compile(meta)).as_ref()
    }
}

impl Types {
    fn compile(meta: &Metadata) -> Option<Self> {
        Some(Self {
            general: Pattern::new(meta.descriptors().general())?,
            types: type_descriptors(meta)
                .map(Pattern::new)
                .collect::<Option<_>>()?,
        })
    }

    fn is_known_type(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
    }
}

/// The descriptors `number_type` tries after the general one. Any match makes the type
/// known and validity asks only that, so their order does not change the answer: fixed
/// line and mobile come first as the ones most numbers match.
fn type_descriptors(meta: &Metadata) -> impl Iterator<Item = &Descriptor> {
    let descriptors = meta.descriptors();
    [
        descriptors.fixed_line(),
        descriptors.mobile(),
        descriptors.premium_rate(),
        descriptors.toll_free(),
        descriptors.shared_cost(),
        descriptors.voip(),
        descriptors.personal_number(),
        descriptors.pager(),
        descriptors.uan(),
        descriptors.voicemail(),
    ]
    .into_iter()
    .flatten()
}

/// `is_known_type` with the library's own patterns, for an entry that did not compile.
fn library_known_type(meta: &Metadata, national: &str) -> bool {
    meta.descriptors().general().is_match(national)
        && type_descriptors(meta).any(|descriptor| descriptor.is_match(national))
}

impl Pattern {
    fn new(descriptor: &Descriptor) -> Option<Self> {
        Some(Self {
            regex: compile(descriptor.national_number().as_str())?,
            possible_length: descriptor.possible_length().to_vec(),
        })
    }

    /// The library's `Descriptor::is_match`: a possible length (when any are listed),
    /// then a match of the pattern that starts at the first digit.
    fn is_match(&self, national: &str) -> bool {
        if !self.possible_length.is_empty()
            && !self.possible_length.contains(&(national.len() as u16))
        {
            return false;
        }
        starts_match(&self.regex, national)
    }
}

/// The library's test of a pattern against a number, "the leftmost match starts at the
/// first digit", is "a match starts at the first digit": with the pattern compiled
/// anchored ([`compile`]), one forward scan that stops as soon as it knows, instead of a
/// search for the leftmost match and then its start.
fn starts_match(regex: &Regex, national: &str) -> bool {
    regex.is_match(national)
}

/// Compiles a metadata pattern as the library's database does (`regex-cache`'s builder
/// with `ignore_whitespace` and otherwise its default options, written out here) but
/// anchored at the start of the text. The newline ends the pattern in case its text ends
/// in a comment, which `ignore_whitespace` allows.
fn compile(source: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{source}\n)"))
        .case_insensitive(false)
        .multi_line(false)
        .dot_matches_new_line(false)
        .swap_greed(false)
        .ignore_whitespace(true)
        .unicode(true)
        .size_limit(10 * (1 << 20))
        .dfa_size_limit(2 * (1 << 20))
        .build()
        .ok()
}
#[cfg(test)]
mod tests {
    use phonenumber::country::Id;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::phone::database::private_database;

    /// Every entry, the non-geographic ones (all `001`, one per calling code) too.
    fn entries(database: &Database) -> Vec<&Metadata> {
        (1..1000)
            .filter_map(|code| database.by_code(&code))
            .flatten()
            .collect()
    }

    /// Every example number of every entry, with its calling code and region.
    fn examples(database: &Database) -> Vec<(u16, String, String)> {
        let mut examples = Vec::new();
        for meta in entries(database) {
            let descriptors = meta.descriptors();
            let all = [
                Some(descriptors.general()),
                descriptors.fixed_line(),
                descriptors.mobile(),
                descriptors.toll_free(),
                descriptors.premium_rate(),
                descriptors.shared_cost(),
                descriptors.personal_number(),
                descriptors.voip(),
                descriptors.pager(),
                descriptors.uan(),
                descriptors.emergency(),
                descriptors.voicemail(),
                descriptors.short_code(),
                descriptors.standard_rate(),
                descriptors.carrier(),
                descriptors.no_international(),
            ];
            for example in all.into_iter().flatten().filter_map(Descriptor::example) {
                if !example.is_empty() {
                    let id = meta.id().to_string();
                    examples.push((meta.country_code(), example.to_string(), id));
                }
            }
        }
        examples
    }

    /// Parses `raw` with the library as the importer does and, when it parses, checks the
    /// validator's answer against the library's `is_valid` on its default database.
    /// Returns the answer, or `None` if the text does not parse.
    fn compare(validator: &Validator, country: Option<Id>, raw: &str) -> Option<bool> {
        let parsed = phonenumber::parse(country, raw).ok()?;
        let expected = phonenumber::is_valid(&parsed);
        assert_eq!(
            validator.is_valid(&parsed),
            expected,
            "{raw} in {country:?}: {parsed:?}"
        );
        Some(expected)
    }

    #[test]
    fn every_pattern_of_the_metadata_compiles_here() {
        let database = private_database();
        for meta in entries(&database) {
            let entry = Entry::default();
            assert!(entry.types(meta).is_some(), "{}", meta.id());
            let leading_digits = entry.leading_digits(meta).is_some();
            assert_eq!(
                leading_digits,
                meta.leading_digits().is_some(),
                "{}",
                meta.id()
            );
        }
    }

    /// Every region's example numbers, as they are, with one digit changed, one short and
    /// one long, each with `+` and its calling code and as a national number of its
    /// region.
    #[test]
    fn example_numbers_are_judged_as_the_library_judges_them() {
        let validator = Validator::new(private_database());
        let (mut valid, mut invalid) = (0, 0);
        for (code, example, id) in examples(validator.database()) {
            let region: Option<Id> = id.parse().ok();
            let last = example
                .chars()
                .last()
                .and_then(|c| c.to_digit(10))
                .unwrap_or(0);
            let writings = [
                example.clone(),
                format!("{}{}", &example[..example.len() - 1], (last + 1) % 10),
                example[..example.len() - 1].to_string(),
                format!("{example}0"),
            ];
            for national in &writings {
                let answers = [
                    compare(&validator, None, &format!("+{code}{national}")),
                    compare(&validator, region, national),
                ];
                for answer in answers.into_iter().flatten() {
                    if answer {
                        valid += 1;
                    } else {
                        invalid += 1;
                    }
                }
            }
        }
        assert!(
            valid > 2_000 && invalid > 2_000,
            "{valid} valid, {invalid} invalid"
        );
    }

    /// Random numbers: example numbers with random digits changed, dropped or added, and
    /// random digits of random length after a random calling code (known or not), with
    /// `+` or as national numbers of a random region. Judged in calling-code order: the
    /// library's default database keeps 100 compiled patterns, and random order would
    /// recompile them for nearly every number.
    #[test]
    fn random_numbers_are_judged_as_the_library_judges_them() {
        let validator = Validator::new(private_database());
        let examples = examples(validator.database());
        let regions: Vec<(u16, Id)> = entries(validator.database())
            .iter()
            .filter_map(|meta| Some((meta.country_code(), meta.id().parse().ok()?)))
            .collect();
        let mut rng = StdRng::seed_from_u64(0x005e_ed0f_1a57);
        let digit = |rng: &mut StdRng| char::from(b'0' + rng.gen_range(0..10u8));
        let mut cases: Vec<(u16, Option<Id>, String)> = Vec::new();
        for _ in 0..100_000 {
            let (code, national, region) = if rng.gen_bool(0.6) {
                let (code, example, id) = &examples[rng.gen_range(0..examples.len())];
                let mut digits: Vec<char> = example.chars().collect();
                for _ in 0..rng.gen_range(0..3) {
                    let at = rng.gen_range(0..digits.len());
                    match rng.gen_range(0..3) {
                        0 => digits[at] = digit(&mut rng),
                        1 if digits.len() > 1 => drop(digits.remove(at)),
                        _ => digits.insert(at, digit(&mut rng)),
                    }
                }
                (*code, digits.into_iter().collect(), id.parse().ok())
            } else {
                let national: String = (0..rng.gen_range(1..18)).map(|_| digit(&mut rng)).collect();
                if rng.gen_bool(0.5) {
                    let (code, region) = regions[rng.gen_range(0..regions.len())];
                    (code, national, Some(region))
                } else {
                    (rng.gen_range(1..1000), national, None)
                }
            };
            match region {
                Some(region) if rng.gen_bool(0.5) => cases.push((code, Some(region), national)),
                _ => cases.push((code, None, format!("+{code}{national}"))),
            }
        }
        cases.sort_by_key(|(code, _, _)| *code);
        let (mut valid, mut invalid) = (0, 0);
        for (_, region, raw) in &cases {
            match compare(&validator, *region, raw) {
                Some(true) => valid += 1,
                Some(false) => invalid += 1,
                None => {}
            }
        }
        assert!(
            valid > 10_000 && invalid > 10_000,
            "{valid} valid, {invalid} invalid"
        );
    }
}
