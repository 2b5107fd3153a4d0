//! Import history: what each import records, listing and filtering, and the full error
//! report in row order.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::contacts::{create_list, upload_csv};
use crate::helpers::{assert_error, TestApp};

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_import_records_its_kind_list_country_counts_and_end(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let report = upload_csv(
        &app,
        &token,
        &format!("/api/v1/contact-lists/{list}/contacts?defaultCountry=us"),
        "phone\n4155552671\nnope\n4155552672\n",
    )
    .await;
    let id = report["importId"].as_str().unwrap();
    let import = get_json(&app, &token, &format!("/api/v1/imports/{id}")).await;
    assert_eq!(import["id"], id);
    assert_eq!(import["kind"], "contacts");
    assert_eq!(import["listId"], list.as_str());
    assert_eq!(import["status"], "completed");
    assert_eq!(import["defaultCountry"], "US");
    assert_eq!(import["totalRows"], 3);
    assert_eq!(import["accepted"], 2);
    assert_eq!(import["rejected"], 1);
    assert_eq!(import["failure"], Value::Null);
    assert!(import["finishedAt"].is_string());
    assert!(import["createdAt"].is_string());
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn imports_are_listed_newest_first_and_can_be_filtered_by_list(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let first = create_list(&app, &token).await;
    let second = create_list(&app, &token).await;
    for list in [&first, &second] {
        upload_csv(
            &app,
            &token,
            &format!("/api/v1/contact-lists/{list}/contacts"),
            "phone\n+14155552671\n",
        )
        .await;
    }
    let dnc = upload_csv(&app, &token, "/api/v1/dnc/import", "phone\n+14155552671\n").await;

    let all = get_json(&app, &token, "/api/v1/imports").await;
    assert_eq!(all["total"], 3);
    assert_eq!(all["data"][0]["id"], dnc["importId"]);
    assert_eq!(all["data"][1]["listId"], second.as_str());
    let only_first = get_json(&app, &token, &format!("/api/v1/imports?listId={first}")).await;
    assert_eq!(only_first["total"], 1);
    assert_eq!(only_first["data"][0]["listId"], first.as_str());
    assert_error(
        app.get("/api/v1/imports?listId=nope", &token).await,
        400,
        "bad_request",
    )
    .await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_error_report_lists_invalid_rows_and_duplicates_in_row_order(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    let existing = app
        .post(
            &path,
            &token,
            &json!({"contacts": [{"phone": "+14155552679"}]}),
        )
        .await;
    assert_eq!(existing.status(), 201);
    let report = upload_csv(
        &app,
        &token,
        &path,
        "phone,email\n\
         +14155552679,\n\
         x,\n\
         +14155552671,\n\
         +14155552672,bad\n\
         +14155552671,\n",
    )
    .await;
    let id = report["importId"].as_str().unwrap();
    let errors = get_json(&app, &token, &format!("/api/v1/imports/{id}/errors")).await;
    assert_eq!(errors["total"], 4);
    let rows: Vec<(i64, Value)> = errors["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["phone"].clone()))
        .collect();
    assert_eq!(
        rows,
        [
            (2, json!("+14155552679")),
            (3, json!("x")),
            (5, json!("+14155552672")),
            (6, json!("+14155552671")),
        ]
    );
    assert_eq!(errors["data"], report["errors"]);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn imports_of_another_organization_are_invisible(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let a = app.register("Acme").await;
    let b = app.register("Globex").await;
    let list = create_list(&app, &a).await;
    upload_csv(
        &app,
        &a,
        &format!("/api/v1/contact-lists/{list}/contacts"),
        "phone\nbad\n",
    )
    .await;
    assert_eq!(get_json(&app, &b, "/api/v1/imports").await["total"], 0);
    let filtered = get_json(&app, &b, &format!("/api/v1/imports?listId={list}")).await;
    assert_eq!(filtered["total"], 0);
    assert_eq!(get_json(&app, &a, "/api/v1/imports").await["total"], 1);
}
