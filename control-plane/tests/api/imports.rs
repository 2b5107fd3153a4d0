//! Imports: what each one records, listing and filtering, the full error report in row
//! order, and the uploads refused as a whole (content type, size limits, header, country).

use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::contacts::{contacts_of, create_list, get_json, send, upload_csv};
use crate::helpers::{assert_error, TestApp, TEST_BODY_LIMIT, TEST_UPLOAD_LIMIT};

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

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn uploads_of_another_content_type_are_415(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    let plain = send(&app, &token, &path, "text/plain", "phone\n+14155552671\n").await;
    assert_error(plain, 415, "unsupported_media_type").await;
    let none = app
        .req(Method::POST, &path, &token)
        .body("phone\n")
        .send()
        .await
        .unwrap();
    assert_error(none, 415, "unsupported_media_type").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_json_upload_over_the_ordinary_body_limit_is_413(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let name = "x".repeat(TEST_BODY_LIMIT);
    let response = app
        .post(
            &format!("/api/v1/contact-lists/{list}/contacts"),
            &token,
            &json!({"contacts": [{"phone": "+14155552671", "name": name}]}),
        )
        .await;
    assert_error(response, 413, "payload_too_large").await;
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_streamed_csv_over_the_upload_limit_is_413_and_fails_the_import(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    // Chunked, without a Content-Length: only counting the bytes can stop it.
    let filler = "z".repeat(1000);
    let rows = TEST_UPLOAD_LIMIT / 1000 + 50;
    let chunks = (0..=rows).map(move |i| {
        let line = if i == 0 {
            "phone,notes\n".to_string()
        } else {
            format!("+1212{},{filler}\n", 2_000_000 + i)
        };
        Ok::<_, std::io::Error>(line)
    });
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    let response = send(&app, &token, &path, "text/csv", body).await;
    assert_error(response, 413, "payload_too_large").await;

    let imports: Value = app
        .get("/api/v1/imports", &token)
        .await
        .json()
        .await
        .unwrap();
    let import = &imports["data"][0];
    assert_eq!(import["status"], "failed", "{import}");
    assert!(import["failure"].as_str().unwrap().contains("larger than"));
    // Complete rows read before the limit stay imported.
    let accepted = import["accepted"].as_i64().unwrap();
    assert!(accepted > 1000, "{import}");
    assert_eq!(contacts_of(&app, &token, &list).await["total"], accepted);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_csv_without_a_phone_column_or_with_an_unknown_country_is_422(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    let no_phone = send(&app, &token, &path, "text/csv", "name,email\nAnn,a@b.co\n").await;
    let body = assert_error(no_phone, 422, "validation_failed").await;
    assert!(body.to_string().contains("no phone column"), "{body}");
    let empty = send(&app, &token, &path, "application/csv", "").await;
    assert_error(empty, 422, "validation_failed").await;
    let country = send(
        &app,
        &token,
        &format!("{path}?defaultCountry=XX"),
        "text/csv",
        "phone\n4155552671\n",
    )
    .await;
    let body = assert_error(country, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"][0]["field"], "defaultCountry");
    let imports: Value = app
        .get("/api/v1/imports", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(imports["total"], 0, "refused uploads leave no import");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_row_that_never_ends_fails_the_upload_instead_of_filling_memory(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    // A quote that never closes makes the rest of the file one record.
    let csv = format!(
        "phone,notes\n+14155552671,fine\n+14155552672,\"{}\n",
        "y\n".repeat(700_000)
    );
    let path = format!("/api/v1/contact-lists/{list}/contacts");
    let response = send(&app, &token, &path, "text/csv", csv).await;
    let body = assert_error(response, 422, "validation_failed").await;
    assert!(body.to_string().contains("row 3 is longer"), "{body}");
    let imports: Value = app
        .get("/api/v1/imports", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(imports["data"][0]["status"], "failed");
    assert_eq!(imports["data"][0]["accepted"], 1);
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_answer_caps_errors_at_100_and_the_import_keeps_them_all(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let mut csv = String::from("phone\n+14155552671\n");
    for i in 0..150 {
        csv.push_str(&format!("bad-{i}\n"));
    }
    let report = upload_csv(
        &app,
        &token,
        &format!("/api/v1/contact-lists/{list}/contacts"),
        &csv,
    )
    .await;
    assert_eq!(report["accepted"], 1);
    assert_eq!(report["rejected"], 150);
    assert_eq!(report["errors"].as_array().unwrap().len(), 100);
    assert_eq!(report["errors"][99]["row"], 102);
    assert_eq!(report["errorsTruncated"], true);

    let import = report["importId"].as_str().unwrap();
    let page: Value = app
        .get(
            &format!("/api/v1/imports/{import}/errors?page=2&perPage=100"),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 150);
    assert_eq!(page["data"].as_array().unwrap().len(), 50);
    assert_eq!(page["data"][0]["row"], 103);
    assert_eq!(page["data"][49]["phone"], "bad-149");
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_file_of_bad_rows_stores_a_bounded_number_and_counts_the_rest(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let bad = 12_345;
    let mut csv = String::from("phone\n+14155552671\n");
    for i in 0..bad {
        csv.push_str(&format!("bad-{i}\n"));
    }
    let report = upload_csv(
        &app,
        &token,
        &format!("/api/v1/contact-lists/{list}/contacts"),
        &csv,
    )
    .await;
    assert_eq!(report["accepted"], 1);
    assert_eq!(report["rejected"], bad);

    // Exact counts on the import; the first 10,000 rows (over several batches) stored.
    let import = report["importId"].as_str().unwrap();
    let view: Value = app
        .get(&format!("/api/v1/imports/{import}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["rejected"], bad);
    let stored: i64 = sqlx::query_scalar("select count(*) from import_errors")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored, 10_000);
    let last: Value = app
        .get(
            &format!("/api/v1/imports/{import}/errors?page=100&perPage=100"),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last["total"], 10_000);
    assert_eq!(last["data"][99]["phone"], "bad-9999");
    assert_eq!(last["data"][99]["row"], 10_002);
}

/// A file of several batches, validated on several threads at once, is written and
/// reported in file order: its rejections come back by row, and its contacts read back
/// (by `created_at, id`) in the order of the file.
#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_file_of_several_batches_validated_in_parallel_keeps_file_order(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let rows = 3 * control_plane::imports::BATCH_ROWS + 7;
    let mut csv = String::from("phone,name\n");
    let (mut kept, mut rejected) = (Vec::new(), Vec::new());
    for i in 0..rows {
        // Spreadsheet row: the header is row 1.
        let row = i as i64 + 2;
        if i % 1000 == 500 {
            csv.push_str(&format!("bad{i},Bad {i}\n"));
            rejected.push((row, "invalid phone"));
        } else if i % 1000 == 900 {
            // The number of row i - 899: in this batch or in the one before.
            csv.push_str(&format!("+1212{},Again {i}\n", 2_000_000 + i - 899));
            rejected.push((row, "duplicate phone"));
        } else {
            csv.push_str(&format!("+1212{},Contact {i}\n", 2_000_000 + i));
            kept.push(format!("Contact {i}"));
        }
    }
    let report = upload_csv(
        &app,
        &token,
        &format!("/api/v1/contact-lists/{list}/contacts"),
        &csv,
    )
    .await;
    assert_eq!(report["accepted"], kept.len(), "{}", report["errors"]);
    assert_eq!(report["rejected"], rejected.len());

    let id = report["importId"].as_str().unwrap();
    let errors = get_json(
        &app,
        &token,
        &format!("/api/v1/imports/{id}/errors?perPage=100"),
    )
    .await;
    assert_eq!(errors["total"], rejected.len());
    let reported: Vec<(i64, String)> = errors["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let reason = e["reason"].as_str().unwrap().to_string();
            (e["row"].as_i64().unwrap(), reason)
        })
        .collect();
    assert_eq!(reported.len(), rejected.len());
    for ((row, reason), (expected_row, expected)) in reported.iter().zip(&rejected) {
        assert_eq!(row, expected_row);
        assert!(reason.starts_with(expected), "row {row}: {reason}");
    }

    let names: Vec<String> = sqlx::query_scalar(
        "select name from contacts where list_id = $1::uuid order by created_at, id",
    )
    .bind(&list)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(names, kept);
}

/// A batch is written by several transactions at once, split by number; the answer must
/// not show it: the first 10,000 rejected rows by row number are the ones stored, whichever
/// transaction found them (invalid rows, and duplicates of numbers ending in every digit
/// within a batch and across batches), and the list reads back in file order.
#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_batch_written_by_several_transactions_stores_the_first_rejected_rows(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let token = app.register("Acme").await;
    let list = create_list(&app, &token).await;
    let rows = 3 * control_plane::imports::BATCH_ROWS + 1_500;
    let mut csv = String::from("phone,name\n");
    let (mut kept, mut rejected) = (Vec::new(), Vec::new());
    for i in 0..rows {
        let row = i as i64 + 2;
        match i % 3 {
            0 => {
                csv.push_str(&format!("+1212{},Contact {i}\n", 2_000_000 + i));
                kept.push(format!("Contact {i}"));
            }
            1 => {
                csv.push_str(&format!("bad{i},Bad {i}\n"));
                rejected.push(row);
            }
            // The number of row i - 2, or of a row of the batch before.
            _ => {
                let first = if i % 7 == 0 && i > 6_000 {
                    i - 5_999
                } else {
                    i - 2
                };
                let first = first - first % 3;
                csv.push_str(&format!("+1212{},Again {i}\n", 2_000_000 + first));
                rejected.push(row);
            }
        }
    }
    let report = upload_csv(
        &app,
        &token,
        &format!("/api/v1/contact-lists/{list}/contacts"),
        &csv,
    )
    .await;
    assert_eq!(report["accepted"], kept.len(), "{}", report["errors"]);
    assert_eq!(report["rejected"], rejected.len());
    assert!(rejected.len() > 10_000);

    let stored: Vec<i64> = sqlx::query_scalar("select row_no from import_errors order by row_no")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(stored, rejected[..10_000]);
    let names: Vec<String> = sqlx::query_scalar(
        "select name from contacts where list_id = $1::uuid order by created_at, id",
    )
    .bind(&list)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(names, kept);
}

/// A contact's organization is its list's: the database refuses any other pairing, so
/// no code path can put one organization's contact in another's list.
#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_contact_cannot_sit_in_another_organizations_list(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let token = app.register("Acme").await;
    app.register("Globex").await;
    let list = create_list(&app, &token).await;
    let inserted = sqlx::query(
        "insert into contacts (id, org_id, list_id, phone)
         select gen_random_uuid(), o.id, $1::uuid, '+14155552671'
         from organizations o where o.name = 'Globex'",
    )
    .bind(&list)
    .execute(&db)
    .await;
    let err = inserted.expect_err("a contact of another organization was stored");
    assert!(err.to_string().contains("contacts_list_org_fkey"), "{err}");
}
