//! What every handler can reach: the pool, the settings and the keys derived from them.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::SessionKeys;
use crate::config::Settings;
use crate::crypto::SecretBox;
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
}

impl AppState {
    pub fn new(db: PgPool, settings: Settings) -> Self {
        let sessions = SessionKeys::new(&settings.auth);
        let secrets = SecretBox::new(&settings.auth.encryption_key);
        Self {
            db,
            settings: Arc::new(settings),
            sessions: Arc::new(sessions),
            secrets: Arc::new(secrets),
            metrics: Metrics::new(),
        }
    }
}
