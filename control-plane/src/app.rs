//! Building and running the service: pool, migrations, router, listener, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::{middleware, Router};
use secrecy::ExposeSecret;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_scalar::Servable;

use crate::api;
use crate::config::Settings;
use crate::engine::{Clock, Engine, SystemClock};
use crate::http::extract::BodyLimit;
use crate::http::{headers, layers};
use crate::integrations::Integrations;
use crate::limits;
use crate::state::AppState;

/// The migrations in `database/migrations`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../database/migrations");

/// A bound, ready-to-serve control plane.
pub struct Application {
    listener: TcpListener,
    router: Router,
    grace: Duration,
    /// The engine loop to run beside the server, when this replica runs one.
    engine: Option<Engine>,
    /// The engine itself, also for callers that drive it by hand (tests, tools).
    engine_handle: Engine,
    /// Webhook delivery and end-of-call reports, when this replica runs them.
    integrations: Option<Integrations>,
}

impl Application {
    /// Checks the secrets, connects to the database, migrates it if configured, and binds
    /// the listener: the binary's way in.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.check_secrets()?;
        let db = PgPoolOptions::new()
            .max_connections(settings.database.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(settings.database.url.expose_secret())
            .await
            .context("connecting to PostgreSQL")?;
        if settings.database.migrate {
            MIGRATOR.run(&db).await.context("running migrations")?;
        }
        Self::build_with_pool(settings, db).await
    }

    /// Like [`Application::build`] with an existing pool (tests hand in a fresh database).
    pub async fn build_with_pool(settings: Settings, db: PgPool) -> anyhow::Result<Self> {
        Self::build_with(settings, db, Arc::new(SystemClock)).await
    }

    /// With an existing pool and an injected clock.
    pub async fn build_with(
        settings: Settings,
        db: PgPool,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("binding {address}"))?;
        Self::build_on(settings, db, clock, listener)
    }

    /// Like [`Application::build_with`] on a listener bound beforehand: a test that must
    /// tell other services the address first holds the port from then on, so nothing
    /// else started in between can take it.
    pub fn build_on(
        settings: Settings,
        db: PgPool,
        clock: Arc<dyn Clock>,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let grace = Duration::from_secs(settings.server.shutdown_grace_sec);
        let run_engine = settings.engine.enabled;
        let integrations = settings
            .webhooks
            .enabled
            .then(|| Integrations::new(db.clone(), clock.clone(), secrets_of(&settings), &settings))
            .transpose()?;
        let state = AppState::with_clock(db, settings, clock)?;
        let engine = run_engine.then(|| state.engine.clone());
        let engine_handle = state.engine.clone();
        let router = router(state)?;
        Ok(Self {
            listener,
            router,
            grace,
            engine,
            engine_handle,
            integrations,
        })
    }

    /// The campaign engine (to tick it by hand when its loop is disabled).
    pub fn engine(&self) -> Engine {
        self.engine_handle.clone()
    }

    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then gives in-flight requests the grace period.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = self.grace;
        let stop_engine = CancellationToken::new();
        let engine_task = self
            .engine
            .map(|engine| tokio::spawn(engine.run(stop_engine.clone())));
        // Deliveries need no draining: one cut short is leased again after a restart.
        let stop_integrations = CancellationToken::new();
        let _stop_integrations_on_exit = stop_integrations.clone().drop_guard();
        if let Some(integrations) = self.integrations {
            tokio::spawn(integrations.run(stop_integrations));
        }
        let _stop_engine_on_exit = stop_engine.clone().drop_guard();
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        // With the peer's address: sign-in limits count per client address.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(self.listener, service).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        });
        let server = tokio::spawn(async move { serve.await });
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => return result?.context("serving HTTP"),
            _ = stopping_rx => tracing::info!("shutting down; draining in-flight requests"),
        }
        // No new dials once shutting down; calls already placed are followed by callbacks
        // to whichever replica is still up.
        stop_engine.cancel();
        if let Some(task) = engine_task {
            let _ = task.await;
        }
        match tokio::time::timeout(grace, &mut server).await {
            Ok(result) => result?.context("serving HTTP"),
            Err(_) => {
                tracing::warn!(
                    grace_sec = grace.as_secs(),
                    "requests still running after the grace period"
                );
                Ok(())
            }
        }
    }
}

/// The key that seals endpoints' secrets, as `AppState` derives it.
fn secrets_of(settings: &Settings) -> Arc<crate::crypto::SecretBox> {
    Arc::new(crate::crypto::SecretBox::new(&settings.auth.encryption_key))
}

/// The whole HTTP surface: API (documented), docs, health, metrics and the console. Fails on a CORS
/// origin that is not a valid header value.
pub fn router(state: AppState) -> anyhow::Result<Router> {
    let settings = state.settings.clone();
    let (api_router, openapi) = api_router(&state).split_for_parts();
    let openapi_json = openapi.clone();
    let cors = headers::cors(&settings.server.cors_allowed_origins)?;

    let router = api_router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || async move { axum::Json(openapi_json) }),
        )
        .merge(utoipa_scalar::Scalar::with_url("/api/v1/docs", openapi))
        .merge(crate::console::router())
        .fallback(layers::route_not_found)
        .method_not_allowed_fallback(layers::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.metrics.http.clone(),
            layers::record_metrics,
        ))
        .layer(layers::trace_layer())
        .layer(DefaultBodyLimit::max(settings.server.body_limit_bytes))
        .layer(axum::Extension(BodyLimit(settings.server.body_limit_bytes)))
        .layer(middleware::from_fn(limits::rate_limit_headers))
        .layer(middleware::from_fn_with_state(
            headers::HeaderPolicy::new(&settings.server),
            headers::security_headers,
        ))
        .with_state(state);
    // Outermost, so that a preflight is answered before anything else runs.
    Ok(match cors {
        Some(cors) => router.layer(cors),
        None => router,
    })
}

/// Every documented route, with the ordinary timeout; uploads get their own.
fn api_router(state: &AppState) -> OpenApiRouter<AppState> {
    let settings = &state.settings;
    let ordinary =
        api::router()
            .merge(crate::supervision::router())
            .layer(middleware::from_fn_with_state(
                settings.request_timeout(),
                layers::timeout,
            ));
    let uploads = api::upload_router()
        .layer(DefaultBodyLimit::max(settings.server.upload_limit_bytes))
        .layer(axum::Extension(BodyLimit(
            settings.server.upload_limit_bytes,
        )))
        .layer(middleware::from_fn_with_state(
            settings.upload_timeout(),
            layers::timeout,
        ));
    let webhooks = crate::webhooks::router().layer(middleware::from_fn_with_state(
        settings.request_timeout(),
        layers::timeout,
    ));
    let internal = crate::internal::router().layer(middleware::from_fn_with_state(
        settings.request_timeout(),
        layers::timeout,
    ));
    // Server-sent events stay open as long as the client wants: no request timeout.
    let streams = api::events::router().merge(crate::supervision::stream_router());
    OpenApiRouter::with_openapi(api::ApiDoc::openapi())
        .merge(ordinary)
        .merge(streams)
        .merge(internal)
        .merge(uploads)
        .merge(webhooks)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
