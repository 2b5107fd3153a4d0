//! The dialer alone against the real livekit-server: what LiveKit answers a request the
//! engine cannot place becomes the `DialError` the engine acts on.

use control_plane::config::Settings;
use control_plane::dialer::livekit::LiveKitSipDialer;
use control_plane::dialer::{DialError, DialRequest, Dialer, ProviderAccount};
use outbound_tests::livekit::LiveKitServer;
use secrecy::SecretString;
use shared::PhoneNumber;
use sqlx::PgPool;
use uuid::Uuid;

fn request() -> DialRequest {
    DialRequest {
        call_id: Uuid::now_v7(),
        to: PhoneNumber::parse("+12125550199", None).unwrap(),
        from: "+12125550100".into(),
        token: "token".into(),
        account: ProviderAccount::unused(),
        amd_timeout_sec: None,
        ring_timeout_sec: 5,
        time_limit_sec: 60,
        livekit_trunk_id: Some("ST_unknown".into()),
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_secret_livekit_refuses_is_bad_credentials_and_nothing_is_created(db: PgPool) {
    let livekit = LiveKitServer::start().await.unwrap();
    let mut settings = Settings::defaults("postgres://unused").unwrap();
    settings.livekit.url = Some(livekit.url.clone());
    settings.livekit.api_key = Some(livekit.api_key.clone());
    settings.livekit.api_secret = Some(SecretString::from(
        "a-wrong-secret-of-32-characters-or-more",
    ));
    let dialer = LiveKitSipDialer::from_settings(&settings.livekit, &settings.server, db)
        .expect("LiveKit is configured");

    let err = dialer.dial(&request()).await.unwrap_err();
    // The engine fails the campaign on this, with the reason for the operator.
    assert!(matches!(err, DialError::BadCredentials(_)), "{err:?}");
    assert!(livekit.room_names().await.unwrap().is_empty());
}
