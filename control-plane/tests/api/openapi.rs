//! The OpenAPI document lists every route, and every documented route is routed.

use reqwest::Method;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn every_documented_path_is_routed(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    let unknown_id = uuid_like();
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = fill_params(path, &unknown_id);
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app
                .client
                .request(method.clone(), app.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert!(
                !(status == 404 && body["error"]["code"] == "route_not_found") && status != 405,
                "{method} {path} is documented but not routed ({status} {body})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} operations documented");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_document_lists_the_resource_routes(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/api-keys",
        "/api/v1/assistants",
        "/api/v1/assistants/{id}/versions",
        "/health",
        "/ready",
        "/metrics",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    let docs_page = app
        .client
        .get(app.url("/api/v1/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(docs_page.status(), 200);
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".to_string()
}

/// Replaces every `{param}` with `value`.
fn fill_params(path: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(rest.len() - 1);
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}
