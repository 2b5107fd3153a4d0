//! The Do-Not-Call list: normalized numbers, idempotent adds, lookups, deletes, CSV
//! imports with duplicate reports, and one list per organization.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::contacts::{multipart, send, upload_csv};
use crate::helpers::{assert_error, TestApp};

async fn numbers(app: &TestApp, token: &str, query: &str) -> Value {
    app.get(&format!("/api/v1/dnc{query}"), token)
        .await
        .json()
        .await
        .unwrap()
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn adding_a_number_normalizes_it_and_adding_it_again_changes_nothing(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let first = app
        .post(
            "/api/v1/dnc",
            &token,
            &json!({"phone": "(415) 555-2671", "reason": "asked on a call", "defaultCountry": "US"}),
        )
        .await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["phone"], "+14155552671");
    assert_eq!(first["reason"], "asked on a call");

    let again = app
        .post(
            "/api/v1/dnc",
            &token,
            &json!({"phone": "+1 415-555-2671", "reason": "something else"}),
        )
        .await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(numbers(&app, &token, "").await["total"], 1);

    let invalid = app
        .post("/api/v1/dnc", &token, &json!({"phone": "4155552671"}))
        .await;
    let body = assert_error(invalid, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"][0]["field"], "phone");
    let reason = body["error"]["details"][0]["message"].as_str().unwrap();
    assert!(reason.contains("defaultCountry"), "no hint: {reason}");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_national_number_takes_its_country_from_the_query_as_on_the_contacts_routes(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let added = app
        .post(
            "/api/v1/dnc?defaultCountry=US",
            &token,
            &json!({"phone": "(415) 555-2673"}),
        )
        .await;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["phone"], "+14155552673");

    // The body's country wins over the query's, as for contacts.
    let added = app
        .post(
            "/api/v1/dnc?defaultCountry=US",
            &token,
            &json!({"phone": "020 7946 0018", "defaultCountry": "GB"}),
        )
        .await;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["phone"], "+442079460018");

    let typo = app
        .post(
            "/api/v1/dnc?defaultCountry=USA",
            &token,
            &json!({"phone": "4155552674"}),
        )
        .await;
    let body = assert_error(typo, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"][0]["field"], "defaultCountry");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn numbers_can_be_looked_up_and_deleted_by_their_e164_form(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    for phone in ["+14155552671", "+14155552672"] {
        let response = app
            .post("/api/v1/dnc", &token, &json!({"phone": phone}))
            .await;
        assert_eq!(response.status(), 201);
    }
    let found = numbers(&app, &token, "?phone=%2B1%20415%20555%202671").await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["data"][0]["phone"], "+14155552671");
    // An unencoded `+` arrives as a space and still finds the number.
    let found = numbers(&app, &token, "?phone=+14155552672").await;
    assert_eq!(found["data"][0]["phone"], "+14155552672");
    let national = numbers(&app, &token, "?phone=4155552672&defaultCountry=US").await;
    assert_eq!(national["total"], 1);

    let path = "/api/v1/dnc/%2B14155552671";
    assert_eq!(app.delete(path, &token).await.status(), 204);
    assert_error(app.delete(path, &token).await, 404, "not_found").await;
    assert_error(
        app.delete("/api/v1/dnc/not-a-number", &token).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(numbers(&app, &token, "").await["total"], 1);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_dnc_csv_adds_new_numbers_and_reports_duplicates(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    app.post("/api/v1/dnc", &token, &json!({"phone": "+14155552673"}))
        .await;
    let csv = "Number,Reason,Source\n\
               415 555 2671,complaint,web\n\
               +14155552671,again,web\n\
               +14155552673,,\n\
               nonsense,,\n\
               415-555-2674,,\n";
    let report = upload_csv(&app, &token, "/api/v1/dnc/import?defaultCountry=US", csv).await;
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["rejected"], 3);
    let reasons: Vec<(i64, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(reasons[0], (3, "duplicate phone: same number as row 2"));
    assert_eq!(
        reasons[1],
        (4, "duplicate phone: already on the Do-Not-Call list")
    );
    assert_eq!(reasons[2].0, 5);

    let listed = numbers(&app, &token, "?phone=%2B14155552671").await;
    assert_eq!(listed["data"][0]["reason"], "complaint");
    assert_eq!(numbers(&app, &token, "").await["total"], 3);
    let import: Value = app
        .get(
            &format!("/api/v1/imports/{}", report["importId"].as_str().unwrap()),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(import["kind"], "dnc");
    assert_eq!(import["listId"], Value::Null);
    assert_eq!(import["status"], "completed");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_dnc_csv_can_come_as_a_form_but_not_as_json(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let (content_type, body) = multipart("phone\n+14155552671\n");
    let response = send(&app, &token, "/api/v1/dnc/import", &content_type, body).await;
    assert_eq!(response.status(), 201);
    assert_eq!(numbers(&app, &token, "").await["total"], 1);
    let json = app
        .post(
            "/api/v1/dnc/import",
            &token,
            &json!({"contacts": [{"phone": "+14155552671"}]}),
        )
        .await;
    assert_error(json, 415, "unsupported_media_type").await;
    let no_phone = send(
        &app,
        &token,
        "/api/v1/dnc/import",
        "text/csv",
        "reason\nx\n",
    )
    .await;
    assert_error(no_phone, 422, "validation_failed").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn each_organization_has_its_own_dnc_list(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let a = app.register("Acme").await;
    let b = app.register("Globex").await;
    let added = app
        .post("/api/v1/dnc", &a, &json!({"phone": "+14155552671"}))
        .await;
    assert_eq!(added.status(), 201);
    assert_eq!(numbers(&app, &b, "").await["total"], 0);
    assert_eq!(numbers(&app, &b, "?phone=%2B14155552671").await["total"], 0);
    assert_error(
        app.delete("/api/v1/dnc/%2B14155552671", &b).await,
        404,
        "not_found",
    )
    .await;
    // The same number is new to the other organization.
    let theirs = app
        .post("/api/v1/dnc", &b, &json!({"phone": "+14155552671"}))
        .await;
    assert_eq!(theirs.status(), 201);
    assert_eq!(numbers(&app, &a, "").await["total"], 1);
}
