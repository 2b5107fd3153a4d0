//! The console's files, built into the binary: nothing is fetched at run time, from us or
//! from anyone else, and the binary alone serves the whole console.
//!
//! Plain ES modules and one stylesheet, hand-written, no build step (ARCHITECTURE.md,
//! "Operator console"). Each answer is `no-cache` with an `ETag` (the content's hash):
//! a browser revalidates and a new binary's files are never shadowed by old ones.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::CONSOLE_CSP;
use crate::error::ApiError;

/// One embedded file.
struct Asset {
    name: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($name:literal),* $(,)?) => {
        &[$(Asset { name: $name, body: include_bytes!(concat!("assets/", $name)) }),*]
    };
}

/// Every file under `/assets/`, by the name it is served as.
static ASSETS: &[Asset] = assets![
    "app.css",
    "app.js",
    "api.js",
    "dom.js",
    "charts.js",
    "events.js",
    "favicon.svg",
    "pages/auth.js",
    "pages/overview.js",
    "pages/campaigns.js",
    "pages/contacts.js",
    "pages/calls.js",
    "pages/live.js",
    "pages/settings.js",
];

/// The one HTML page: every route of the console is drawn into it by `app.js`.
static INDEX: &str = include_str!("assets/index.html");

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn serve(name: &str, body: &'static [u8], headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(body))[..16]);
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_CSP),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, value);
    }
    response
}

/// `GET /`: the console's page.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", INDEX.as_bytes(), &headers)
}

/// `GET /assets/{*name}`.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|asset| asset.name == name) {
        Some(asset) => serve(asset.name, asset.body, &headers),
        None => ApiError::NotFound("asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        // An `import ... from "./x.js"` of a file not in ASSETS would 404 in the browser.
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).expect("utf-8");
            let dir = asset.name.rsplit_once('/').map(|(d, _)| d);
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split('"').nth(1) else {
                    continue;
                };
                let mut parts: Vec<&str> = dir.map(|d| d.split('/').collect()).unwrap_or_default();
                for piece in spec.split('/') {
                    match piece {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        other => parts.push(other),
                    }
                }
                let path = parts.join("/");
                assert!(
                    ASSETS.iter().any(|a| a.name == path),
                    "{} imports {spec} ({path}), which is not embedded",
                    asset.name
                );
            }
        }
    }
}
