//! Phone numbers: parsing anything, with or without a default country, and masking.

use proptest::prelude::*;
use shared::phone::{mask, mask_numbers_in};
use shared::PhoneNumber;

/// Text that looks like a phone number some of the time.
fn phone_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+]?[0-9 ()./-]{0,30}",
        "\\PC{0,40}",
        "[+][0-9]{1,3}[0-9]{4,14}",
    ]
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn parsing_any_text_never_panics_and_a_parsed_number_is_e164(
        raw in phone_like(),
        country in prop::option::of("[A-Za-z]{0,3}"),
    ) {
        if let Ok(number) = PhoneNumber::parse(&raw, country.as_deref()) {
            let e164 = number.as_str();
            prop_assert!(e164.starts_with('+'));
            prop_assert!(e164[1..].bytes().all(|b| b.is_ascii_digit()), "{e164}");
            // Parsing is idempotent: the E.164 form parses to itself.
            let again = PhoneNumber::parse(e164, None).expect("E.164 parses again");
            prop_assert_eq!(again.as_str(), e164);
            prop_assert!(!number.masked().contains(&e164[3..e164.len() - 2]));
        }
    }

    #[test]
    fn masking_hides_every_long_digit_run(text in "\\PC{0,80}", digits in "[0-9]{7,15}") {
        let line = format!("{text} {digits} {text}");
        let masked = mask_numbers_in(&line);
        prop_assert!(!masked.contains(&digits), "{masked}");
        prop_assert!(mask(&text).chars().count() == text.chars().count());
    }
}
