//! `X-Twilio-Signature` validation.
//!
//! Twilio signs `full URL + for each POST parameter, sorted by name (values sorted too):
//! name + value` with HMAC-SHA1 keyed by the account's auth token, base64-encoded. The URL
//! must be exactly the one Twilio called; since proxies may add or drop the default port,
//! both forms are accepted. JSON bodies are signed through a `bodySHA256` query parameter.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;

/// The signature Twilio would send for `url` and form `params`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// True when `signature` matches `url` (with or without its default port) and `params`.
pub fn validate_form(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    // The URL as received first: the other port form is only built (and signed) when that
    // fails, so a good callback costs one HMAC and no extra allocation.
    constant_time_eq(&sign(auth_token, url, params), signature)
        || other_port_form(url)
            .is_some_and(|other| constant_time_eq(&sign(auth_token, &other, params), signature))
}

/// For JSON bodies: the URL (carrying `bodySHA256`) is signed alone, and the body must
/// hash to the `bodySHA256` it names.
pub fn validate_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Some(expected) = query_param(url, "bodySHA256") else {
        return false;
    };
    let actual = hex::encode(Sha256::digest(body));
    constant_time_eq(&actual, &expected) && validate_form(auth_token, url, &[], signature)
}

/// The same URL with the scheme's default port added or removed, if it has a form.
fn other_port_form(url: &str) -> Option<String> {
    let (scheme, port) = if url.starts_with("https://") {
        ("https://", "443")
    } else if url.starts_with("http://") {
        ("http://", "80")
    } else {
        return None;
    };
    let rest = &url[scheme.len()..];
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(host_end);
    let with_port = format!(":{port}");
    if let Some(host) = authority.strip_suffix(&with_port) {
        Some(format!("{scheme}{host}{tail}"))
    } else if !authority.contains(':') {
        Some(format!("{scheme}{authority}{with_port}{tail}"))
    } else {
        None
    }
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_string())
    })
}

/// Compares without an early exit, so timing does not reveal how much matched.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The vector from Twilio's own SDK tests.
    #[test]
    fn twilio_published_vector_validates() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            sign("12345", url, &vector_params()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert!(validate_form(
            "12345",
            url,
            &vector_params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn the_default_port_may_be_added_or_dropped() {
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert!(validate_form(
            "12345",
            with_port,
            &vector_params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn a_changed_param_token_or_url_fails() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        let mut params = vector_params();
        params[2].1 = "9999".into();
        assert!(!validate_form("12345", url, &params, sig));
        assert!(!validate_form("54321", url, &vector_params(), sig));
        assert!(!validate_form(
            "12345",
            "https://evil.com/myapp.php?foo=1&bar=2",
            &vector_params(),
            sig
        ));
        assert!(!validate_form("12345", url, &vector_params(), ""));
    }

    #[test]
    fn json_bodies_are_checked_through_their_hash() {
        let body = br#"{"a":1}"#;
        let url = format!(
            "https://example.com/hook?bodySHA256={}",
            hex::encode(Sha256::digest(body))
        );
        let sig = sign("tok", &url, &[]);
        assert!(validate_json("tok", &url, body, &sig));
        assert!(!validate_json("tok", &url, br#"{"a":2}"#, &sig));
    }
}
