//! What the provider clients share: one pooled HTTP client, endpoints (base URL + key),
//! WebSocket URLs, and turning transport failures into `ProviderError`s.

use super::ProviderError;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use secrecy::SecretString;
use std::time::Duration;
use url::Url;

/// At most this much of an error body is kept (enough for any service's JSON error).
const ERROR_BODY_LIMIT: usize = 4_096;
/// How long to wait for an error body before giving up on it.
const ERROR_BODY_WAIT: Duration = Duration::from_secs(2);

/// The one HTTP client of the process: connection pooling across every call.
pub fn build_client(connect_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("agent-worker/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// TLS for WebSocket clients: ring and the Mozilla roots, chosen explicitly so the
/// choice does not depend on which crypto features other crates switched on.
pub fn websocket_tls() -> Result<std::sync::Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

/// A service's base URL and key, under the provider name used in errors.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub provider: String,
    /// Without a trailing slash.
    pub base_url: String,
    pub api_key: Option<SecretString>,
}

impl Endpoint {
    /// An endpoint; `base_url` may end with a slash or not.
    pub fn new(provider: &str, base_url: &str, api_key: Option<SecretString>) -> Self {
        Self {
            provider: provider.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
        }
    }

    /// `base_url` + `/` + `path`, parsed (base URLs may carry a path such as `/v1`).
    pub fn url(&self, path: &str) -> Result<Url, ProviderError> {
        let text = format!("{}/{}", self.base_url, path.trim_start_matches('/'));
        Url::parse(&text).map_err(|e| self.not_configured(format!("bad URL {text}: {e}")))
    }

    /// The same URL with `ws`/`wss` for `http`/`https`.
    pub fn ws_url(&self, path: &str) -> Result<Url, ProviderError> {
        let mut url = self.url(path)?;
        let scheme = match url.scheme() {
            "http" | "ws" => "ws",
            "https" | "wss" => "wss",
            other => return Err(self.not_configured(format!("unsupported scheme {other}"))),
        };
        url.set_scheme(scheme)
            .map_err(|()| self.not_configured(format!("cannot use {scheme} for {url}")))?;
        Ok(url)
    }

    /// A `NotConfigured` error for this provider.
    pub fn not_configured(&self, message: String) -> ProviderError {
        ProviderError::NotConfigured {
            provider: self.provider.clone(),
            message,
        }
    }

    /// A `Connection` error for this provider.
    pub fn connection(&self, message: impl Into<String>) -> ProviderError {
        ProviderError::Connection {
            provider: self.provider.clone(),
            message: message.into(),
        }
    }

    /// A `Protocol` error for this provider.
    pub fn protocol(&self, message: impl Into<String>) -> ProviderError {
        ProviderError::Protocol {
            provider: self.provider.clone(),
            message: message.into(),
        }
    }

    /// Maps a reqwest failure; `timeout_ms` is what the request's own timeout was.
    pub fn request_error(&self, error: &reqwest::Error, timeout_ms: u64) -> ProviderError {
        if error.is_timeout() {
            ProviderError::Timeout {
                provider: self.provider.clone(),
                ms: timeout_ms,
            }
        } else if error.is_decode() || error.is_body() && !error.is_request() {
            self.connection(format!("reading the response: {error}"))
        } else {
            self.connection(error_chain(error))
        }
    }

    /// Sends `request`; a non-2xx answer becomes `Status` with (the start of) its body.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout_ms: u64,
    ) -> Result<reqwest::Response, ProviderError> {
        let response = request
            .send()
            .await
            .map_err(|e| self.request_error(&e, timeout_ms))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(ProviderError::Status {
            provider: self.provider.clone(),
            status: status.as_u16(),
            body: read_error_body(response).await,
        })
    }

    /// The response body as a stream of chunks, errors mapped.
    pub fn byte_stream(
        &self,
        response: reqwest::Response,
        timeout_ms: u64,
    ) -> BoxStream<'static, Result<Bytes, ProviderError>> {
        let endpoint = self.clone();
        response
            .bytes_stream()
            .map(move |chunk| chunk.map_err(|e| endpoint.request_error(&e, timeout_ms)))
            .boxed()
    }
}

/// Reads at most `ERROR_BODY_LIMIT` bytes of an error body, for a bounded time.
async fn read_error_body(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    let read = async {
        while body.len() < ERROR_BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(ERROR_BODY_WAIT, read).await;
    body.truncate(ERROR_BODY_LIMIT);
    String::from_utf8_lossy(&body).trim().to_string()
}

/// An error with its causes ("error sending request: connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_base_paths_and_switch_to_websocket_schemes() {
        let openai = Endpoint::new("openai", "http://127.0.0.1:9000/v1/", None);
        assert_eq!(
            openai.url("/chat/completions").unwrap().as_str(),
            "http://127.0.0.1:9000/v1/chat/completions"
        );
        let deepgram = Endpoint::new("deepgram", "https://api.deepgram.com", None);
        assert_eq!(
            deepgram.ws_url("v1/listen").unwrap().as_str(),
            "wss://api.deepgram.com/v1/listen"
        );
        let local = Endpoint::new("deepgram", "http://127.0.0.1:7000", None);
        assert_eq!(local.ws_url("v1/listen").unwrap().scheme(), "ws");
        let ftp = Endpoint::new("x", "ftp://example.com", None);
        assert!(matches!(
            ftp.ws_url("a"),
            Err(ProviderError::NotConfigured { .. })
        ));
    }
}
