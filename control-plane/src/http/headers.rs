//! Security headers on every answer, and CORS for the origins the settings allow.
//!
//! Every answer is `nosniff`, may not be framed, and carries a Content-Security-Policy:
//! API answers allow nothing at all (they are data, never a page), the API docs page
//! allows the Scalar bundle it loads from jsDelivr. Answers are `no-store` unless their
//! handler chose otherwise (API answers hold tenants' data; shared caches must not keep
//! them). HSTS is sent when the public URL is https, i.e. when clients reach us over TLS.
//!
//! CORS is off unless `server.cors_allowed_origins` names origins: then a preflight from
//! one of them is answered, and other origins get no CORS headers at all.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::ServerSettings;

/// The docs page (`/api/v1/docs`): the only answer that is a page with scripts.
pub const DOCS_PATH: &str = "/api/v1/docs";

/// For everything that is not the docs page: nothing may load, nothing may frame it.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// For the docs page: utoipa-scalar's page loads `@scalar/api-reference` from jsDelivr,
/// which injects its styles and fonts and fetches the OpenAPI document from us.
const DOCS_CSP: &str = "default-src 'none'; script-src https://cdn.jsdelivr.net; \
     style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.scalar.com; \
     font-src https://cdn.jsdelivr.net https://fonts.scalar.com data:; \
     img-src 'self' data: https:; connect-src 'self' https://cdn.jsdelivr.net; \
     worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// What the headers layer needs from the settings.
#[derive(Debug, Clone, Copy)]
pub struct HeaderPolicy {
    /// Send `Strict-Transport-Security` (the public URL is https).
    pub hsts: bool,
}

impl HeaderPolicy {
    pub fn new(server: &ServerSettings) -> Self {
        Self {
            hsts: server.public_url.starts_with("https://"),
        }
    }
}

/// Adds the security headers to every answer.
pub async fn security_headers(
    State(policy): State<HeaderPolicy>,
    request: Request,
    next: Next,
) -> Response {
    let docs = request.uri().path().trim_end_matches('/') == DOCS_PATH;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // The console's pages and assets set their own (crate::console::CONSOLE_CSP).
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(if docs { DOCS_CSP } else { API_CSP }),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if policy.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// The CORS layer for `origins` (comma-separated; empty: none, and no layer at all).
/// Fails on an origin that is not a valid header value.
pub fn cors(origins: &str) -> anyhow::Result<Option<CorsLayer>> {
    let origins = origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            HeaderValue::from_str(o.trim_end_matches('/'))
                .map_err(|_| anyhow::anyhow!("invalid CORS origin {o:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if origins.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            // A browser client may read the limits it is under.
            .expose_headers([
                header::RETRY_AFTER,
                HeaderName::from_static("x-ratelimit-limit"),
                HeaderName::from_static("x-ratelimit-remaining"),
                HeaderName::from_static("x-ratelimit-reset"),
            ])
            .max_age(Duration::from_secs(600)),
    ))
}
