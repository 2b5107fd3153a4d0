//! The agent worker: joins calls and holds the conversations.
//!
//! `audio/` is the phone's audio (mu-law, VAD, pacing, recording), `providers/` the
//! speech and language services behind streaming traits.

pub mod audio;
pub mod control;
pub mod metrics;
pub mod pipeline;
pub mod providers;
pub mod transport;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The worker's HTTP surface.
pub fn router() -> Router {
    Router::new().route("/health", get(health))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "service": "agent-worker" }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[tokio::test]
    async fn health_answers_ok() {
        let response = router()
            .oneshot(Request::get("/health").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["status"], "ok");
    }
}
