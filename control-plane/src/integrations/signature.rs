//! How every request we send a customer is signed (`Webhook-Signature: t=<unix>,v1=<hex>`),
//! and how a receiver checks it: HMAC-SHA256 with the endpoint's secret over
//! `"<t>.<raw body>"`, refused outside a five-minute window around the receiver's clock.
//! OUTBOUND_CALLS.md ("Webhooks to your systems") shows the same check with a test vector.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The header carrying the signature.
pub const HEADER: &str = "Webhook-Signature";

/// The header carrying the event's id (the receiver's key for ignoring repeats).
pub const ID_HEADER: &str = "Webhook-Id";

/// How far a signature's time may be from the receiver's clock, either way.
pub const TOLERANCE_SEC: i64 = 300;

/// A new signing secret: `whsec_` and 32 random bytes in hex. The whole string, prefix
/// included, is the HMAC key.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// The header value for `body` sent at unix time `t`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(mac(secret, t, body).finalize().into_bytes())
    )
}

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is not `t=<unix>,v1=<hex>`")]
    Malformed,
    #[error("the signature's time is outside the replay window")]
    Expired,
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// Checks `header` for `body` at the receiver's unix time `now`. Several `v1=` values
/// are accepted (one matching is enough), so a sender may sign with two secrets while
/// one is being rotated.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > TOLERANCE_SEC {
        return Err(SignatureError::Expired);
    }
    let matches = signatures.iter().any(|candidate| {
        hex::decode(candidate)
            // `verify_slice` compares in constant time.
            .is_ok_and(|bytes| mac(secret, t, body).verify_slice(&bytes).is_ok())
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"id":"8f0e2c1a-0000-4000-8000-000000000001","type":"call.status"}"#;

    #[test]
    fn the_documented_test_vector_holds() {
        // The same numbers as OUTBOUND_CALLS.md, computed there with Python's hmac.
        assert_eq!(
            sign(SECRET, 1_733_500_000, BODY),
            "t=1733500000,v1=82706f53f415ac8deded5cf0acda1962ba26b65bbc4331770dd469f7dbb1c2f5"
        );
    }

    #[test]
    fn a_signature_verifies_within_the_window_only() {
        let header = sign(SECRET, 1_000_000, BODY);
        assert_eq!(verify(SECRET, &header, BODY, 1_000_000 + 300), Ok(()));
        assert_eq!(verify(SECRET, &header, BODY, 1_000_000 - 300), Ok(()));
        assert_eq!(
            verify(SECRET, &header, BODY, 1_000_000 + 301),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn another_secret_or_body_or_time_is_refused() {
        let header = sign(SECRET, 1_000_000, BODY);
        assert_eq!(
            verify("whsec_other", &header, BODY, 1_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &header, b"{}", 1_000_000),
            Err(SignatureError::Mismatch)
        );
        // Moving `t` breaks the MAC: the time is signed too.
        let moved = header.replace("t=1000000", "t=1000001");
        assert_eq!(
            verify(SECRET, &moved, BODY, 1_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, "v1=abc", BODY, 0),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let good = sign(SECRET, 5, BODY);
        let header = format!("t=5,v1=00ff,{}", good.split_once(',').unwrap().1);
        assert_eq!(verify(SECRET, &header, BODY, 5), Ok(()));
    }

    #[test]
    fn secrets_are_random_and_prefixed() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64);
        assert_ne!(a, b);
    }
}
