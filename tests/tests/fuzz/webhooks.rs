//! The webhooks' parsing: Twilio's form bodies and signatures, LiveKit's signed JSON.

use control_plane::webhooks::twilio::signature;
use livekit_api::access_token::{AccessToken, TokenVerifier};
use livekit_api::webhooks::WebhookReceiver;
use proptest::prelude::*;

const TOKEN: &str = "fuzz-auth-token";
const URL: &str = "https://cp.example.com/webhooks/twilio/status?callId=0190";

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn any_twilio_form_is_parsed_and_checked_without_panicking(
        body in prop::collection::vec(any::<u8>(), 0..512),
        signature_header in "\\PC{0,40}",
    ) {
        let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        // A random header never passes.
        prop_assert!(!signature::validate_form(TOKEN, URL, &params, &signature_header));
    }

    #[test]
    fn a_form_signed_with_the_token_passes_and_any_change_fails(
        params in prop::collection::vec(("[A-Za-z]{1,12}", "\\PC{0,16}"), 0..8),
        extra in "[a-z]{1,8}",
    ) {
        let params: Vec<(String, String)> = params;
        let signed = signature::sign(TOKEN, URL, &params);
        prop_assert!(signature::validate_form(TOKEN, URL, &params, &signed));
        let mut changed = params.clone();
        changed.push(("Extra".into(), extra));
        prop_assert!(!signature::validate_form(TOKEN, URL, &changed, &signed));
    }

    #[test]
    fn any_livekit_body_and_token_are_refused_or_read_without_panicking(
        body in "\\PC{0,300}",
        token in "\\PC{0,200}",
    ) {
        let receiver = WebhookReceiver::new(TokenVerifier::with_api_key("key", "secret-secret-secret"));
        prop_assert!(receiver.receive(&body, &token).is_err(), "an unsigned body was accepted");
    }

    #[test]
    fn a_properly_signed_livekit_body_of_any_content_never_panics(body in "\\PC{0,300}") {
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body.as_bytes()));
        let token = AccessToken::with_api_key("key", "secret-secret-secret")
            .with_sha256(&hash)
            .to_jwt()
            .expect("a token");
        let receiver = WebhookReceiver::new(TokenVerifier::with_api_key("key", "secret-secret-secret"));
        // Signed but not necessarily an event: read or refused, never a panic.
        let _ = receiver.receive(&body, &token);
    }
}
