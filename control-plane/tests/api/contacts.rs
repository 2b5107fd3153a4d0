//! Contact lists and contact uploads: CRUD, CSV rules and row reports, JSON and multipart,
//! and isolation between organizations. Whole-upload refusals are in `imports`.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{assert_error, id_of, TestApp};

/// Creates a contact list and returns its id.
pub async fn create_list(app: &TestApp, token: &str) -> String {
    let response = app
        .post(
            "/api/v1/contact-lists",
            token,
            &json!({"name": "Leads", "description": "From the fair"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    id_of(response).await
}

/// A new list that already holds `phone` (added as JSON), and its contacts path with
/// `query` appended.
async fn list_holding(app: &TestApp, token: &str, phone: &str, query: &str) -> (String, String) {
    let list = create_list(app, token).await;
    let path = format!("/api/v1/contact-lists/{list}/contacts{query}");
    let stored = app
        .post(&path, token, &json!({"contacts": [{"phone": phone}]}))
        .await;
    assert_eq!(stored.status(), 201);
    (list, path)
}

/// GETs `path`, which must answer 200, as JSON.
pub async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// The list's `contactCount`, as its view reports it.
async fn contact_count(app: &TestApp, token: &str, list: &str) -> Value {
    get_json(app, token, &format!("/api/v1/contact-lists/{list}")).await["contactCount"].clone()
}

/// POSTs `body` with `content_type` to `path`.
pub async fn send(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> Response {
    app.req(Method::POST, path, token)
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// POSTs a CSV and asserts the upload was accepted; returns the report.
pub async fn upload_csv(app: &TestApp, token: &str, path: &str, csv: &str) -> Value {
    let response = send(app, token, path, "text/csv", csv.to_string()).await;
    assert_eq!(response.status(), 201, "upload to {path}");
    response.json().await.unwrap()
}

/// A multipart form with one `file` field holding `csv`.
pub fn multipart(csv: &str) -> (String, Vec<u8>) {
    let boundary = "----outbound-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

pub async fn contacts_of(app: &TestApp, token: &str, list: &str) -> Value {
    app.get(
        &format!("/api/v1/contact-lists/{list}/contacts?perPage=500"),
        token,
    )
    .await
    .json()
    .await
    .unwrap()
}

/// The error entry for `row`, panicking with the whole report when there is none.
fn error_for(report: &Value, row: i64) -> &Value {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["row"] == row)
        .unwrap_or_else(|| panic!("no error for row {row} in {report}"))
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn contact_lists_can_be_created_read_renamed_and_deleted(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let id = create_list(&app, &token).await;
    let path = format!("/api/v1/contact-lists/{id}");
    let list: Value = app.get(&path, &token).await.json().await.unwrap();
    assert_eq!(list["name"], "Leads");
    assert_eq!(list["description"], "From the fair");
    assert_eq!(list["contactCount"], 0);

    let renamed = app
        .put(&path, &token, &json!({"name": "  Hot leads "}))
        .await;
    assert_eq!(renamed.status(), 200);
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!(renamed["name"], "Hot leads");
    assert_eq!(renamed["description"], Value::Null);

    let all: Value = app
        .get("/api/v1/contact-lists", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["total"], 1);
    assert_eq!(all["data"][0]["id"], id.as_str());

    assert_error(
        app.post("/api/v1/contact-lists", &token, &json!({"name": " "}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(app.delete(&path, &token).await.status(), 204);
    assert_error(app.get(&path, &token).await, 404, "not_found").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_csv_with_mixed_rows_imports_exactly_the_good_ones_and_reports_each_bad_one(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let (list, path) = list_holding(&app, &token, "+14155552673", "?defaultCountry=us").await;

    let csv = "\u{feff} Phone ,NAME,Email,TimeZone,Plan,Region\n\
               +1 415 555 2671,Ann,ann@example.com,America/Los_Angeles,gold,west\n\
               not-a-number,Bob,,,silver,east\n\
               +14155552672,Cat,,Mars/Base,gold,west\n\
               (415) 555-2671,Ann again,,,,\n\
               4155552673,Dan,dan@example.com,,bronze,south\n\
               +14155552674,Eve,,,gold\n\
               +14155552675,Fay,fay@,,,\n\
               \"(415) 555-2676\",\"Gus, Jr.\",,Europe/Paris,,\n\
               ,Nobody,,,,\n";
    let report = upload_csv(&app, &token, &path, csv).await;
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["rejected"], 7, "{report}");
    assert_eq!(report["errorsTruncated"], false);
    let rows: Vec<i64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_i64().unwrap())
        .collect();
    assert_eq!(rows, [3, 4, 5, 6, 7, 8, 10]);
    for (row, phone, reason) in [
        (3, json!("not-a-number"), "invalid phone"),
        (4, json!("+14155552672"), "unknown time zone"),
        (5, json!("+14155552671"), "same number as row 2"),
        (6, json!("+14155552673"), "already in the list"),
        (7, json!("+14155552674"), "expected 6 columns, found 5"),
        (8, json!("+14155552675"), "invalid email"),
        (10, Value::Null, "missing phone"),
    ] {
        let error = error_for(&report, row);
        assert_eq!(error["phone"], phone, "row {row}: {error}");
        let text = error["reason"].as_str().unwrap();
        assert!(text.contains(reason), "row {row}: {text}");
    }

    let contacts = contacts_of(&app, &token, &list).await;
    assert_eq!(contacts["total"], 3);
    let ann = &contacts["data"][1];
    assert_eq!(ann["phone"], "+14155552671");
    assert_eq!(ann["name"], "Ann");
    assert_eq!(ann["email"], "ann@example.com");
    assert_eq!(ann["timezone"], "America/Los_Angeles");
    assert_eq!(ann["variables"], json!({"Plan": "gold", "Region": "west"}));
    let gus = &contacts["data"][2];
    assert_eq!(gus["phone"], "+14155552676");
    assert_eq!(gus["name"], "Gus, Jr.");
    assert_eq!(gus["variables"], json!({"Plan": "", "Region": ""}));

    assert_eq!(contact_count(&app, &token, &list).await, 3);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn national_numbers_need_a_default_country(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let csv = "number\n(212) 555-0147\n+44 20 7946 0958\n";
    let bare = format!("/api/v1/contact-lists/{list}/contacts");
    let report = upload_csv(&app, &token, &bare, csv).await;
    assert_eq!(report["accepted"], 1);
    assert!(report["errors"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("defaultCountry"));

    let report = upload_csv(&app, &token, &format!("{bare}?defaultCountry=US"), csv).await;
    assert_eq!(report["accepted"], 1, "{report}");
    assert_eq!(
        report["errors"][0]["reason"],
        "duplicate phone: already in the list"
    );
    let phones: Vec<String> = contacts_of(&app, &token, &list).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phone"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(phones, ["+442079460958", "+12125550147"]);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_duplicate_in_a_later_batch_is_reported_as_an_earlier_row(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let mut csv = String::from("phone\n");
    let rows = control_plane::imports::BATCH_ROWS + 10;
    for i in 0..rows {
        csv.push_str(&format!("+1212{}\n", 2_000_000 + i));
    }
    csv.push_str("+12122000000\n");
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    let report = upload_csv(&app, &token, &path, &csv).await;
    assert_eq!(report["accepted"], rows, "{}", report["errors"]);
    assert_eq!(report["rejected"], 1);
    assert_eq!(report["errors"][0]["row"], rows + 2);
    assert_eq!(
        report["errors"][0]["reason"],
        "duplicate phone: same number as an earlier row"
    );
}

/// A batch goes in with a plain insert until one meets a number the list holds; that
/// batch is rolled back to its savepoint and inserted again skipping conflicts, and so is
/// every later batch. Nothing of the failed attempt may stay, and later batches must still
/// find their repeats.
#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_stored_number_mid_batch_costs_nothing_of_the_batch_and_later_batches_still_find_repeats(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let (list, path) = list_holding(&app, &token, "+12122004000", "").await;
    // Three batches of fresh numbers; the stored one late in the first, and the first
    // row's number again in the third.
    let rows = 2 * control_plane::imports::BATCH_ROWS + 10;
    let mut csv = String::from("phone\n");
    for i in 0..rows {
        csv.push_str(&format!("+1212{}\n", 2_000_000 + i));
    }
    csv.push_str("+12122000000\n");
    let report = upload_csv(&app, &token, &path, &csv).await;
    assert_eq!(report["accepted"], rows - 1, "{}", report["errors"]);
    assert_eq!(report["rejected"], 2, "{}", report["errors"]);
    let stored_row = error_for(&report, 4000 + 2);
    assert_eq!(stored_row["reason"], "duplicate phone: already in the list");
    let repeat = error_for(&report, rows as i64 + 2);
    assert_eq!(
        repeat["reason"],
        "duplicate phone: same number as an earlier row"
    );
    assert_eq!(contact_count(&app, &token, &list).await, rows);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn contacts_can_be_added_as_json(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    let response = app
        .post(
            &path,
            &token,
            &json!({"defaultCountry": "GB", "contacts": [
                {"phone": "020 7946 0958", "name": "Ann", "timezone": "Europe/London",
                 "variables": {"product": "solar"}},
                {"phone": "12"},
                {"phone": "+442079460958"}
            ]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["accepted"], 1);
    assert_eq!(report["errors"][0]["row"], 2);
    assert_eq!(report["errors"][1]["row"], 3);
    assert!(report["importId"].is_string());
    let contact = &contacts_of(&app, &token, &list).await["data"][0];
    assert_eq!(contact["phone"], "+442079460958");
    assert_eq!(contact["variables"], json!({"product": "solar"}));

    let malformed = send(&app, &token, &path, "application/json", "{\"contacts\": [").await;
    assert_error(malformed, 400, "malformed_json").await;
    let wrong_shape = app
        .post(&path, &token, &json!({"contacts": [{"name": "no phone"}]}))
        .await;
    assert_error(wrong_shape, 422, "validation_failed").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_csv_file_can_be_sent_as_a_multipart_form(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let (content_type, body) = multipart("phone,name\n+14155552671,Ann\n+14155552672,Bob\n");
    let response = send(
        &app,
        &token,
        &format!("/api/v1/contact-lists/{list}/contacts"),
        &content_type,
        body,
    )
    .await;
    assert_eq!(response.status(), 201);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(contacts_of(&app, &token, &list).await["total"], 2);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn single_contacts_can_be_removed(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    upload_csv(&app, &token, &path, "phone\n+14155552671\n+14155552672\n").await;
    let id = contacts_of(&app, &token, &list).await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.delete(&format!("{path}/{id}"), &token).await.status(),
        204
    );
    assert_error(
        app.delete(&format!("{path}/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(contacts_of(&app, &token, &list).await["total"], 1);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_list_used_by_a_campaign_cannot_be_deleted(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let token = app.register("Acme").await;
    let list: Uuid = create_list(&app, &token).await.parse().unwrap();
    let assistant: Uuid = app.create_assistant(&token).await.parse().unwrap();
    let org = sqlx::query_scalar!("select org_id from contact_lists where id = $1", list)
        .fetch_one(&db)
        .await
        .unwrap();
    let trunk = Uuid::now_v7();
    sqlx::query!(
        "insert into trunks (id, org_id, name, provider, mode)
         values ($1, $2, 'Main', 'twilio', 'twilio_stream')",
        trunk,
        org
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query!(
        "insert into campaigns (id, org_id, name, assistant_id, contact_list_id, trunk_id, mode,
                                timezone, calling_days, start_hour, end_hour,
                                max_concurrent_calls, max_attempts, retry_busy_min,
                                retry_no_answer_min, retry_failed_min, retry_voicemail_min)
         values ($1, $2, 'Spring', $3, $4, $5, 'twilio_stream', 'UTC', '{mon}', 9, 17,
                 1, 1, 5, 5, 5, 5)",
        Uuid::now_v7(),
        org,
        assistant,
        list,
        trunk
    )
    .execute(&db)
    .await
    .unwrap();
    let response = app
        .delete(&format!("/api/v1/contact-lists/{list}"), &token)
        .await;
    assert_error(response, 409, "conflict").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn lists_and_contacts_of_another_organization_are_not_found(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let a = app.register("Acme").await;
    let b = app.register("Globex").await;
    let list = create_list(&app, &a).await;
    let path = format!("/api/v1/contact-lists/{list}");
    let report = upload_csv(
        &app,
        &a,
        &format!("{path}/contacts"),
        "phone\n+14155552671\n",
    )
    .await;
    let contact = contacts_of(&app, &a, &list).await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let import = report["importId"].as_str().unwrap();

    for response in [
        app.get(&path, &b).await,
        app.put(&path, &b, &json!({"name": "mine now"})).await,
        app.get(&format!("{path}/contacts"), &b).await,
        app.delete(&format!("{path}/contacts/{contact}"), &b).await,
        send(
            &app,
            &b,
            &format!("{path}/contacts"),
            "text/csv",
            "phone\n+14155552672\n",
        )
        .await,
        app.get(&format!("/api/v1/imports/{import}"), &b).await,
        app.get(&format!("/api/v1/imports/{import}/errors"), &b)
            .await,
        app.delete(&path, &b).await,
    ] {
        assert_error(response, 404, "not_found").await;
    }
    let lists: Value = app
        .get("/api/v1/contact-lists", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lists["total"], 0);
    assert_eq!(contacts_of(&app, &a, &list).await["total"], 1);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn contacts_are_searched_by_name_email_or_phone_digits_across_pages(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    let csv = "phone,name,email\n\
               +14155550101,Ada Lovelace,ada@example.com\n\
               +14155550102,Grace Hopper,grace@navy.example\n\
               +12125550103,Alan Turing,alan@example.org\n\
               +12125550104,100% Real,percent@example.org\n";
    upload_csv(&app, &token, &path, csv).await;
    let search = |q: &str| {
        let (app, token, path) = (&app, &token, &path);
        let q = q.to_string();
        async move {
            let page: Value = app
                .get(&format!("{path}?q={q}&perPage=1"), token)
                .await
                .json()
                .await
                .unwrap();
            page
        }
    };

    let page = search("LOVELACE").await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["data"][0]["name"], "Ada Lovelace");
    assert_eq!(search("example.org").await["total"], 2, "emails match");
    let page = search("(212)%20555").await;
    assert_eq!(page["total"], 2, "a phone matches by its digits: {page}");
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "and pages");
    assert_eq!(
        search("100%25").await["total"],
        1,
        "LIKE wildcards in the search are literal"
    );
    assert_eq!(search("_").await["total"], 0);
    assert_eq!(
        search("%20").await["total"],
        4,
        "a blank search is no filter"
    );
}
