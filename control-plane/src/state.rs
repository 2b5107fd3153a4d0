//! What every handler can reach: the pool, the settings and the keys derived from them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use object_store::ObjectStore;
use sqlx::PgPool;

use crate::auth::SessionKeys;
use crate::config::Settings;
use crate::crypto::SecretBox;
use crate::dialer::livekit::LiveKitSipDialer;
use crate::dialer::twilio::{TwilioClient, TwilioStreamDialer, TwilioUrls};
use crate::engine::{Clock, Dialers, Engine, SystemClock};
use crate::limits::Limits;
use crate::provisioning::Provisioner;
use crate::telemetry::Metrics;

/// Cheap to clone: everything inside is shared.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: PgPool,
    pub settings: Arc<Settings>,
    /// Signs and verifies session JWTs.
    pub sessions: Arc<SessionKeys>,
    /// Encrypts trunk secrets at rest.
    pub secrets: Arc<SecretBox>,
    pub metrics: Metrics,
    /// The campaign engine (its loop runs only where `engine.enabled`), its dialers and
    /// call tokens: webhooks and the workers' API use them too.
    pub engine: Engine,
    /// Where call recordings are stored (opened from `recordings.store_url`).
    pub recordings: Arc<dyn ObjectStore>,
    /// Trunks' other sides: LiveKit outbound trunks and Twilio Elastic SIP trunks.
    pub provisioner: Arc<Provisioner>,
    /// Abuse limits, counted in this replica's memory.
    pub limits: Arc<Limits>,
}

impl AppState {
    /// Fails when the recordings store cannot be opened (a bad URL, or a local folder
    /// that cannot be created).
    pub fn new(db: PgPool, settings: Settings) -> anyhow::Result<Self> {
        Self::with_clock(db, settings, Arc::new(SystemClock))
    }

    /// With an injected clock (tests run simulated days).
    pub fn with_clock(
        db: PgPool,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let recordings =
            shared::storage::open(&settings.recordings.store_url, &settings.recordings.options)
                .with_context(|| {
                    format!(
                        "opening the recordings store {}",
                        settings.recordings.store_url
                    )
                })?;
        let provisioner = Arc::new(Provisioner::new(&settings)?);
        let sessions = SessionKeys::new(&settings.auth);
        let secrets = Arc::new(SecretBox::new(&settings.auth.encryption_key));
        let settings_limits = settings.limits.clone();
        let mut engine_settings = settings.engine.clone();
        engine_settings.pre_dial_allow_private_targets = settings.webhooks.allow_private_targets;
        let engine = Engine::new(
            db.clone(),
            clock,
            dialers(&settings, &db),
            secrets.clone(),
            engine_settings,
            &settings.workers,
            &settings.twilio,
        );
        Ok(Self {
            db,
            settings: Arc::new(settings),
            sessions: Arc::new(sessions),
            secrets,
            metrics: Metrics::new(),
            engine,
            recordings,
            provisioner,
            limits: Arc::new(Limits::new(&settings_limits)),
        })
    }
}

fn dialers(settings: &Settings, db: &PgPool) -> Dialers {
    let twilio = TwilioStreamDialer::new(
        TwilioClient::new(
            &settings.twilio.base_url,
            Duration::from_secs(settings.twilio.request_timeout_sec),
        ),
        TwilioUrls {
            public_url: settings.server.public_url.clone(),
            media_stream_url: settings.twilio.media_stream_url.clone(),
        },
    );
    let mut dialers = Dialers::new();
    dialers.insert("twilio_stream", Arc::new(twilio));
    // Without a LiveKit project, campaigns on `livekit_sip` trunks fail with "no
    // livekit_sip account configured", as Twilio ones do without an account.
    if let Some(livekit) =
        LiveKitSipDialer::from_settings(&settings.livekit, &settings.server, db.clone())
    {
        dialers.insert("livekit_sip", Arc::new(livekit));
    }
    dialers
}
