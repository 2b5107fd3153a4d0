//! A tiny local HTTP server for the TTS clients' wire tests: records each request and
//! answers with the given body chunks.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// Path and query.
    pub(crate) uri: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

/// Serves every POST with `status` and `chunks`; returns the base URL and the record.
pub(crate) async fn serve(
    status: StatusCode,
    chunks: Vec<Vec<u8>>,
) -> (String, Arc<Mutex<Vec<Recorded>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let record = Arc::clone(&record);
        let chunks = chunks.clone();
        async move {
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            record.lock().unwrap().push(Recorded {
                uri: uri.to_string(),
                headers,
                body,
            });
            let stream = futures::stream::iter(
                chunks
                    .into_iter()
                    .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
            );
            Response::builder()
                .status(status)
                .body(Body::from_stream(stream))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://127.0.0.1:{port}"), seen)
}
