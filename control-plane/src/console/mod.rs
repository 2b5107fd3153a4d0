//! The operator console: a web app served by the control plane at `/`, on the public REST
//! API under `/api/v1` like every other client, signed in with a cookie session.
//!
//! - [`assets`]: the page and its ES modules, embedded in the binary;
//! - [`session`]: sign in, register, sign out, and the cookie + CSRF check the API's
//!   `Caller` extractor falls back to.
//!
//! Why no JavaScript build, and why a cookie rather than a token in script: ARCHITECTURE.md,
//! "Operator console".

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

pub mod assets;
pub mod session;

/// The console's Content-Security-Policy: scripts, styles, images, audio and API calls
/// from this origin only (audio also from `blob:`: the call page plays a recording it
/// fetched with the session); no inline script or style markup, no framing, no plugins.
/// Charts are inline SVG built with DOM calls, which need no `unsafe-inline`.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `/`, `/assets/*` and `/console/*`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{*name}", get(assets::asset))
        .route(
            "/console/session",
            get(session::current)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .route("/console/register", post(session::register))
}
