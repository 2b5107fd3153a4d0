//! Which time zones a callee may be in.
//!
//! In order: the contact's own time zone; else every zone of the number's country (a
//! country-level table below: conservative, since the calling window must then hold in
//! all of them); else the campaign's zone. Area-code level narrowing (for example New York
//! numbers are Eastern) is not in this table yet; for multi-zone countries the window is
//! therefore only open where it holds coast to coast.

use chrono_tz::Tz;
use shared::PhoneNumber;

/// Zones a callee with this contact zone and number may be in.
pub fn callee_zones(contact_zone: Option<&str>, phone: &PhoneNumber, campaign_zone: Tz) -> Vec<Tz> {
    if let Some(zone) = contact_zone.and_then(|z| z.parse::<Tz>().ok()) {
        return vec![zone];
    }
    if let Some(zones) = phone.region().as_deref().and_then(country_zones) {
        return zones
            .iter()
            .filter_map(|name| name.parse::<Tz>().ok())
            .collect();
    }
    vec![campaign_zone]
}

/// The zones people of a country live in (IANA names), for the countries a campaign most
/// often dials. Countries not listed fall back to the campaign's zone.
fn country_zones(region: &str) -> Option<&'static [&'static str]> {
    Some(match region {
        "US" => &[
            "America/New_York",
            "America/Chicago",
            "America/Denver",
            "America/Phoenix",
            "America/Los_Angeles",
            "America/Anchorage",
            "Pacific/Honolulu",
        ],
        "CA" => &[
            "America/St_Johns",
            "America/Halifax",
            "America/Toronto",
            "America/Winnipeg",
            "America/Regina",
            "America/Edmonton",
            "America/Vancouver",
        ],
        "MX" => &[
            "America/Cancun",
            "America/Mexico_City",
            "America/Hermosillo",
            "America/Mazatlan",
            "America/Tijuana",
        ],
        "BR" => &[
            "America/Noronha",
            "America/Sao_Paulo",
            "America/Manaus",
            "America/Rio_Branco",
        ],
        "AU" => &[
            "Australia/Sydney",
            "Australia/Brisbane",
            "Australia/Adelaide",
            "Australia/Darwin",
            "Australia/Perth",
        ],
        "ES" => &["Europe/Madrid", "Atlantic/Canary"],
        "PT" => &["Europe/Lisbon", "Atlantic/Azores"],
        "PR" => &["America/Puerto_Rico"],
        "GB" => &["Europe/London"],
        "IE" => &["Europe/Dublin"],
        "FR" => &["Europe/Paris"],
        "DE" => &["Europe/Berlin"],
        "IT" => &["Europe/Rome"],
        "NL" => &["Europe/Amsterdam"],
        "BE" => &["Europe/Brussels"],
        "CH" => &["Europe/Zurich"],
        "AT" => &["Europe/Vienna"],
        "SE" => &["Europe/Stockholm"],
        "NO" => &["Europe/Oslo"],
        "DK" => &["Europe/Copenhagen"],
        "FI" => &["Europe/Helsinki"],
        "PL" => &["Europe/Warsaw"],
        "IN" => &["Asia/Kolkata"],
        "JP" => &["Asia/Tokyo"],
        "CN" => &["Asia/Shanghai"],
        "SG" => &["Asia/Singapore"],
        "HK" => &["Asia/Hong_Kong"],
        "KR" => &["Asia/Seoul"],
        "PH" => &["Asia/Manila"],
        "AE" => &["Asia/Dubai"],
        "IL" => &["Asia/Jerusalem"],
        "ZA" => &["Africa/Johannesburg"],
        "NZ" => &["Pacific/Auckland"],
        "CO" => &["America/Bogota"],
        "AR" => &["America/Argentina/Buenos_Aires"],
        "CL" => &["America/Santiago"],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contact_zone_wins() {
        let phone = PhoneNumber::parse("+12125550142", None).unwrap();
        let zones = callee_zones(Some("Europe/Paris"), &phone, chrono_tz::UTC);
        assert_eq!(zones, vec![chrono_tz::Europe::Paris]);
    }

    #[test]
    fn a_us_number_without_a_zone_may_be_in_any_us_zone() {
        let phone = PhoneNumber::parse("+12125550142", None).unwrap();
        let zones = callee_zones(None, &phone, chrono_tz::UTC);
        assert!(zones.contains(&chrono_tz::America::New_York));
        assert!(zones.contains(&chrono_tz::Pacific::Honolulu));
        let uk = PhoneNumber::parse("+442079460958", None).unwrap();
        assert_eq!(
            callee_zones(None, &uk, chrono_tz::UTC),
            vec![chrono_tz::Europe::London]
        );
    }

    #[test]
    fn every_listed_zone_is_a_real_iana_zone() {
        for region in ["US", "CA", "MX", "BR", "AU", "ES", "PT", "AR"] {
            for name in country_zones(region).unwrap() {
                assert!(name.parse::<Tz>().is_ok(), "{name}");
            }
        }
    }

    #[test]
    fn an_unknown_country_falls_back_to_the_campaign_zone() {
        // +297 is Aruba: not in the table.
        let phone = PhoneNumber::parse("+2975601234", None).unwrap();
        assert_eq!(
            callee_zones(None, &phone, chrono_tz::America::Chicago),
            vec![chrono_tz::America::Chicago]
        );
    }
}
