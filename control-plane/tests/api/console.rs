//! The console's server side: its page and assets under a strict CSP, the cookie session
//! with its CSRF check (beside bearer tokens, which keep working), and the event stream
//! (`GET /api/v1/events`): tenant isolation, resume after `Last-Event-ID`, and no event
//! delivered ahead of an earlier one whose transaction has not committed yet.

use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::calls::{insert_call, CallSeed};
use crate::campaigns::org;
use crate::helpers::{assert_error, TestApp};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_page_and_its_modules_are_served_under_a_strict_csp(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/assets/app.js"));

    let js = app
        .client
        .get(app.url("/assets/pages/calls.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let etag = js.headers()["etag"].clone();
    let again = app
        .client
        .get(app.url("/assets/pages/calls.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = app
        .client
        .get(app.url("/assets/../../etc/passwd"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // API answers keep their own, stricter policy.
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert!(health.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'; frame-ancestors"));
}

/// The `name=value` of each Set-Cookie, and the full lines.
fn cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn value_of(set_cookies: &[String], name: &str) -> String {
    set_cookies
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {name} cookie in {set_cookies:?}"))
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_cookie_session_needs_its_csrf_token_to_change_anything(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let registered = app
        .client
        .post(app.url("/console/register"))
        .json(&json!({"email": "ops@acme.example", "password": "s3cret-password", "organizationName": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let set = cookies(&registered);
    let session_line = set.iter().find(|c| c.starts_with("oc_session=")).unwrap();
    assert!(
        session_line.contains("HttpOnly") && session_line.contains("SameSite=Strict"),
        "{session_line}"
    );
    let body: Value = registered.json().await.unwrap();
    assert_eq!(body["email"], "ops@acme.example");
    assert!(
        body.get("token").is_none(),
        "the token is never handed to script: {body}"
    );
    let (session, csrf) = (value_of(&set, "oc_session"), value_of(&set, "oc_csrf"));
    let cookie = format!("oc_session={session}; oc_csrf={csrf}");

    // Reading needs only the cookie.
    let me = app
        .client
        .get(app.url("/console/session"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let list = app
        .client
        .get(app.url("/api/v1/assistants"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);

    // Changing needs the header, and the right one.
    let assistant = json!({"name": "Ava", "systemPrompt": "Be brief.",
                            "firstMessage": "Hi, this is Ava, an AI assistant."});
    for header in [
        None,
        Some("0".repeat(64)),
        Some(csrf.replace('a', "b") + "x"),
    ] {
        let mut request = app
            .client
            .post(app.url("/api/v1/assistants"))
            .header(COOKIE, &cookie)
            .json(&assistant);
        if let Some(h) = &header {
            request = request.header("x-csrf-token", h);
        }
        assert_error(request.send().await.unwrap(), 403, "forbidden").await;
    }
    let created = app
        .client
        .post(app.url("/api/v1/assistants"))
        .header(COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .json(&assistant)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // A CSRF token of another session does not fit this one.
    let other = app
        .client
        .post(app.url("/console/register"))
        .json(&json!({"email": "ops@other.example", "password": "s3cret-password", "organizationName": "Other"}))
        .send()
        .await
        .unwrap();
    let other_csrf = value_of(&cookies(&other), "oc_csrf");
    let crossed = app
        .client
        .post(app.url("/api/v1/assistants"))
        .header(COOKIE, &cookie)
        .header("x-csrf-token", other_csrf)
        .json(&assistant)
        .send()
        .await
        .unwrap();
    assert_error(crossed, 403, "forbidden").await;

    // Bearer tokens work as before, and win over a cookie.
    let token = app.register("Bearer Org").await;
    let mine = app.get("/api/v1/assistants", &token).await;
    let mine: Value = mine.json().await.unwrap();
    assert_eq!(
        mine["total"], 0,
        "the bearer's organization, not the cookie's"
    );

    // Signing in from another site is refused; a wrong password is the API's 401.
    let cross = app
        .client
        .post(app.url("/console/session"))
        .header("origin", "https://evil.example")
        .json(&json!({"email": "ops@acme.example", "password": "s3cret-password"}))
        .send()
        .await
        .unwrap();
    assert_error(cross, 403, "forbidden").await;
    let wrong = app
        .client
        .post(app.url("/console/session"))
        .json(&json!({"email": "ops@acme.example", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, "unauthorized").await;
    let signed_in = app
        .client
        .post(app.url("/console/session"))
        .json(&json!({"email": "ops@acme.example", "password": "s3cret-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    assert_eq!(value_of(&cookies(&signed_in), "oc_csrf").len(), 64);

    // Signing out clears both cookies.
    let out = app
        .client
        .delete(app.url("/console/session"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let cleared = cookies(&out);
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")) && cleared.len() == 2,
        "{cleared:?}"
    );
    let nobody = app
        .client
        .get(app.url("/console/session"))
        .send()
        .await
        .unwrap();
    assert_error(nobody, 401, "unauthorized").await;
}

/// Reads server-sent events: (id, event, data) per message (the supervision tests too).
pub struct Sse {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    buffer: String,
}

impl Sse {
    pub async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> Self {
        let mut request = app.req(reqwest::Method::GET, "/api/v1/events", token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Sse {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event, or None if none comes within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<(String, String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let message: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
                for line in message.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().into();
                    }
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().into();
                    }
                    if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if !data.is_empty() {
                    return Some((id, event, serde_json::from_str(&data).unwrap()));
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_event_stream_is_the_callers_own_and_resumes_without_gaps(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (acme, other) = (org(&app, "Acme").await, org(&app, "Other").await);
    let unauthenticated = app
        .client
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_error(unauthenticated, 401, "unauthorized").await;
    let garbled = app
        .req(
            reqwest::Method::GET,
            "/api/v1/events?after=yesterday",
            &acme.token,
        )
        .send()
        .await
        .unwrap();
    assert_error(garbled, 422, "validation_failed").await;

    let mut stream = Sse::open(&app, &acme.token, None).await;
    let theirs = insert_call(&app, other.id, CallSeed::default()).await;
    let ours = insert_call(
        &app,
        acme.id,
        CallSeed {
            status: shared::CallStatus::Ringing,
            ..CallSeed::default()
        },
    )
    .await;
    sqlx::query!(
        "update calls set status = 'completed', outcome = 'interested' where id = $1",
        ours
    )
    .execute(&app.db)
    .await
    .unwrap();
    let wait = Duration::from_secs(10);
    let (first_id, kind, created) = stream.next(wait).await.expect("call.created");
    assert_eq!(
        (kind.as_str(), created["callId"].as_str()),
        ("call.created", Some(ours.to_string().as_str()))
    );
    assert_eq!(created["status"], "ringing");
    let (second_id, kind, updated) = stream.next(wait).await.expect("call.updated");
    assert_eq!(kind, "call.updated");
    assert_eq!(
        (updated["status"].as_str(), updated["outcome"].as_str()),
        (Some("completed"), Some("interested"))
    );
    assert!(
        stream.next(Duration::from_millis(1500)).await.is_none(),
        "another org's call {theirs} leaked"
    );

    // Reconnecting after the first event gives the second, then nothing again.
    let mut resumed = Sse::open(&app, &acme.token, Some(&first_id)).await;
    let (id, _, again) = resumed
        .next(wait)
        .await
        .expect("the event after Last-Event-ID");
    assert_eq!((id.as_str(), &again), (second_id.as_str(), &updated));
    assert!(resumed.next(Duration::from_millis(1000)).await.is_none());

    // A transaction that started first and commits last: its event is not skipped. Nothing
    // is delivered while it runs; then both come, the earlier transaction's first.
    let mut slow = app.db.begin().await.unwrap();
    let early = Uuid::now_v7();
    sqlx::query!(
        "insert into calls (id, org_id, mode, to_phone, status) values ($1, $2, 'twilio_stream', '+14155550199', 'queued')",
        early,
        acme.id
    )
    .execute(&mut *slow)
    .await
    .unwrap();
    let late = insert_call(&app, acme.id, CallSeed::default()).await;
    assert!(
        stream.next(Duration::from_millis(1500)).await.is_none(),
        "an event overtook a running transaction"
    );
    slow.commit().await.unwrap();
    let (_, _, a) = stream
        .next(wait)
        .await
        .expect("the slow transaction's event");
    let (_, _, b) = stream.next(wait).await.expect("the quick one's");
    assert_eq!(
        (a["callId"].as_str(), b["callId"].as_str()),
        (
            Some(early.to_string().as_str()),
            Some(late.to_string().as_str())
        )
    );
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn the_overview_counts_todays_calls_of_the_callers_organization(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (acme, other) = (org(&app, "Acme").await, org(&app, "Other").await);
    use shared::{CallOutcome, CallStatus};
    insert_call(
        &app,
        acme.id,
        CallSeed {
            status: CallStatus::InProgress,
            answered: true,
            ..CallSeed::default()
        },
    )
    .await;
    insert_call(
        &app,
        acme.id,
        CallSeed {
            answered: true,
            outcome: Some(CallOutcome::Interested),
            cost_cents: 12.5,
            ..CallSeed::default()
        },
    )
    .await;
    insert_call(
        &app,
        acme.id,
        CallSeed {
            status: CallStatus::Busy,
            ..CallSeed::default()
        },
    )
    .await;
    insert_call(
        &app,
        other.id,
        CallSeed {
            cost_cents: 99.0,
            ..CallSeed::default()
        },
    )
    .await;
    let o: Value = app
        .get("/api/v1/overview?timezone=America/New_York", &acme.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(o["liveCalls"], 1, "{o}");
    assert_eq!(o["callsToday"], 3, "{o}");
    assert_eq!(o["answeredToday"], 2, "{o}");
    // Of the two calls that are over, one was answered.
    assert_eq!(o["answerRate"], 0.5, "{o}");
    assert_eq!(o["outcomes"], json!({"interested": 1}));
    assert_eq!(o["spendTodayCents"], 12.5);
    assert_eq!(
        o["callsPerHour"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>(),
        3
    );
    let bad = app
        .get("/api/v1/overview?timezone=Mars/Olympus", &acme.token)
        .await;
    assert_error(bad, 422, "validation_failed").await;
}
