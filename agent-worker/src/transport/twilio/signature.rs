//! `X-Twilio-Signature` on the WebSocket upgrade: base64 HMAC-SHA1, keyed with the auth
//! token, over the stream URL (Twilio signs it with no parameters for a WebSocket).

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The header Twilio signs requests with.
pub const HEADER: &str = "x-twilio-signature";

/// Whether `signature` is Twilio's signature of `url` with `auth_token`.
pub fn verify(auth_token: &str, url: &str, signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return false;
    };
    mac.update(url.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_twilio_s_published_example() {
        // From Twilio's "Webhooks security" page: the URL with its POST parameters
        // appended in key order (a WebSocket upgrade simply has none).
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2\
            CallSidCA1234567890ABCDE\
            Caller+14158675309Digits1234From+14158675309To+18005551212";
        let token = "12345";
        assert!(verify(token, url, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!verify(token, url, "RSOYDt4T1cUTdK1PDd93/VVr8B9="));
        assert!(!verify("other", url, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!verify(token, url, "not base64!"));
    }
}
