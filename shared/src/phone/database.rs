//! A per-thread copy of the `phonenumber` metadata database, equal to the library's
//! default one but with its own regex cache.
//!
//! The library's default database keeps its compiled regexes in one cache behind one
//! mutex, held while each regex runs, so threads validating numbers (the CSV import's, one
//! per core) took turns; a copy per thread has its own cache and never waits.

use phonenumber::metadata::{loader, Database, Descriptor, Format, Metadata};

/// A database equal to the library's default one but with its own regex cache, or the
/// default itself (shared cache: slower, same answers) if the copy came out different.
///
/// Built from the default database's own entries (every pattern by its source text), in
/// the order the default one holds them: `by_code` lists a calling code's regions in
/// file order (the main region first), and where two entries share an id (the
/// non-geographic `001`), `by_id` holds the one loaded last.
pub(super) fn private_database() -> Database {
    let default = &*phonenumber::metadata::DATABASE;
    // Every calling code (they have at most three digits). Not from `iter()`: it walks
    // `by_id`, which holds one of the non-geographic `001` entries only.
    let codes: Vec<u16> = (1..1000)
        .filter(|code| default.by_code(code).is_some())
        .collect();
    let in_code_order: Vec<&Metadata> = codes
        .iter()
        .flat_map(|code| default.by_code(code).unwrap_or_default())
        .collect();
    let is_winner = |meta: &Metadata| {
        default
            .by_id(meta.id())
            .is_some_and(|kept| std::ptr::eq(kept, meta))
    };
    // The entries `by_id` keeps go last, so they are the ones kept again.
    let (winners, others): (Vec<&Metadata>, Vec<&Metadata>) =
        in_code_order.into_iter().partition(|meta| is_winner(meta));
    let entries = others.into_iter().chain(winners).map(loader_metadata);
    match Database::from(entries.collect()) {
        Ok(copy) if same_layout(default, &copy, &codes) => copy,
        _ => {
            tracing::warn!(
                "the phone metadata copy differs from the library's: using the shared one"
            );
            default.clone()
        }
    }
}

/// Whether `copy` finds the same entries as `default` by id and by calling code.
fn same_layout(default: &Database, copy: &Database, codes: &[u16]) -> bool {
    let by_code_ids = |db: &Database, code: &u16| -> Option<Vec<String>> {
        db.by_code(code)
            .map(|metas| metas.iter().map(|m| m.id().to_string()).collect())
    };
    let same_codes = codes.iter().all(|code| {
        by_code_ids(default, code) == by_code_ids(copy, code)
            && default.region(code) == copy.region(code)
    });
    let same_ids = default.iter().all(|meta| {
        let kept = |db: &Database| db.by_id(meta.id()).map(Metadata::country_code);
        kept(default) == kept(copy)
    });
    same_codes && same_ids && default.iter().count() == copy.iter().count()
}

/// The loader's form of one metadata entry: the inverse of what `Database::from` does
/// with it (regexes back to their source text).
fn loader_metadata(meta: &Metadata) -> loader::Metadata {
    let text = |text: &str| text.to_string();
    let descriptors = meta.descriptors();
    loader::Metadata {
        general: Some(loader_descriptor(descriptors.general())),
        fixed_line: descriptors.fixed_line().map(loader_descriptor),
        mobile: descriptors.mobile().map(loader_descriptor),
        toll_free: descriptors.toll_free().map(loader_descriptor),
        premium_rate: descriptors.premium_rate().map(loader_descriptor),
        shared_cost: descriptors.shared_cost().map(loader_descriptor),
        personal_number: descriptors.personal_number().map(loader_descriptor),
        voip: descriptors.voip().map(loader_descriptor),
        pager: descriptors.pager().map(loader_descriptor),
        uan: descriptors.uan().map(loader_descriptor),
        emergency: descriptors.emergency().map(loader_descriptor),
        voicemail: descriptors.voicemail().map(loader_descriptor),
        short_code: descriptors.short_code().map(loader_descriptor),
        standard_rate: descriptors.standard_rate().map(loader_descriptor),
        carrier: descriptors.carrier().map(loader_descriptor),
        no_international: descriptors.no_international().map(loader_descriptor),
        id: Some(meta.id().to_string()),
        country_code: Some(meta.country_code()),
        international_prefix: meta.international_prefix().map(|r| r.as_str().to_string()),
        preferred_international_prefix: meta.preferred_international_prefix().map(text),
        national_prefix: meta.national_prefix().map(text),
        preferred_extension_prefix: meta.preferred_extension_prefix().map(text),
        national_prefix_for_parsing: meta
            .national_prefix_for_parsing()
            .map(|r| r.as_str().to_string()),
        national_prefix_transform_rule: meta.national_prefix_transform_rule().map(text),
        formats: meta.formats().iter().map(loader_format).collect(),
        international_formats: meta
            .international_formats()
            .iter()
            .map(loader_format)
            .collect(),
        main_country_for_code: meta.is_main_country_for_code(),
        leading_digits: meta.leading_digits().map(|r| r.as_str().to_string()),
        mobile_number_portable: meta.is_mobile_number_portable(),
        // Only the XML loader reads these; `Database::from` does not.
        defaults: loader::Defaults::default(),
    }
}

fn loader_descriptor(descriptor: &Descriptor) -> loader::Descriptor {
    loader::Descriptor {
        national_number: Some(descriptor.national_number().as_str().to_string()),
        possible_length: descriptor.possible_length().to_vec(),
        possible_local_length: descriptor.possible_local_length().to_vec(),
        example: descriptor.example().map(str::to_string),
    }
}

fn loader_format(format: &Format) -> loader::Format {
    loader::Format {
        pattern: Some(format.pattern().as_str().to_string()),
        format: Some(format.format().to_string()),
        leading_digits: format
            .leading_digits()
            .iter()
            .map(|regex| regex.as_str().to_string())
            .collect(),
        national_prefix_formatting_rule: format.national_prefix().map(str::to_string),
        national_prefix_optional_when_formatting: format.is_national_prefix_optional(),
        domestic_carrier: format.domestic_carrier().map(str::to_string),
    }
}
