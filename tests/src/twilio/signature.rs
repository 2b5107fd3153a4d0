//! `X-Twilio-Signature`, computed the way Twilio computes it.
//!
//! base64(HMAC-SHA1(auth token, URL + every POST parameter as name+value, names sorted,
//! repeated names' values sorted)). Written independently of the control plane's validator
//! so the emulator checks the product rather than sharing its bugs.
//!
//! WebSocket upgrades for Media Streams are signed the same way over the `<Stream url>`
//! exactly as it appears in the TwiML, with no parameters (a GET has no body).

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The header carrying the signature.
pub const HEADER: &str = "X-Twilio-Signature";

/// The signature of a request to `url` with form `params` (empty for GET and WebSocket).
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature` matches `url` and `params`, with or without the scheme's default
/// port in the URL (Twilio accepts either, since proxies add or drop it).
pub fn validate(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    url_variants(url)
        .iter()
        .any(|candidate| constant_time_eq(&sign(auth_token, candidate, params), signature))
}

fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return variants;
    };
    let default = match parsed.scheme() {
        "https" | "wss" => 443,
        "http" | "ws" => 80,
        _ => return variants,
    };
    let authority_end = url.find("://").map(|i| i + 3).and_then(|start| {
        url[start..]
            .find(['/', '?', '#'])
            .map(|i| start + i)
            .or(Some(url.len()))
    });
    let Some(end) = authority_end else {
        return variants;
    };
    let suffix = format!(":{default}");
    if url[..end].ends_with(&suffix) {
        variants.push(format!("{}{}", &url[..end - suffix.len()], &url[end..]));
    } else {
        variants.push(format!("{}{}{}", &url[..end], suffix, &url[end..]));
    }
    variants
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twilio_vector_params() -> Vec<(String, String)> {
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

    #[test]
    fn signs_twilios_published_vector() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            sign("12345", url, &twilio_vector_params()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    #[test]
    fn parameter_order_in_the_request_does_not_matter() {
        let mut params = twilio_vector_params();
        params.reverse();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(sign("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    }

    #[test]
    fn validation_accepts_the_url_with_or_without_the_default_port() {
        let params = twilio_vector_params();
        let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert!(validate(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &params,
            sig
        ));
        assert!(validate(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            sig
        ));
    }

    #[test]
    fn validation_rejects_a_changed_value_token_or_url() {
        let mut params = twilio_vector_params();
        let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert!(!validate("12346", url, &params, sig));
        assert!(!validate(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params,
            sig
        ));
        params[2].1 = "1235".into();
        assert!(!validate("12345", url, &params, sig));
    }

    #[test]
    fn repeated_parameters_are_signed_with_their_values_sorted() {
        let a = vec![
            ("StatusCallbackEvent".to_string(), "ringing".to_string()),
            ("StatusCallbackEvent".to_string(), "answered".to_string()),
        ];
        let b: Vec<_> = a.iter().rev().cloned().collect();
        assert_eq!(sign("t", "https://x/y", &a), sign("t", "https://x/y", &b));
    }
}
