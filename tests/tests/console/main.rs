//! The operator console in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `./dev test`) driven over WebDriver against a control
//! plane with its engine, a real agent worker, and the Twilio and provider emulators.
//!
//! One test walks an operator's day through the UI only: register; create an assistant
//! and a trunk; upload a CSV with bad rows and read each one reported; fill a campaign
//! form wrong and see the API's 422 beside the field; create and start the campaign;
//! pause and resume it; watch its calls appear and end on the live wall (pushed by the
//! event stream); open a finished call and play its recording from a transcript line;
//! stop the campaign. Every page is checked by our accessibility checker (`a11y.js`) and
//! saved as a screenshot under `target/console-screenshots/`; two pages are also checked
//! at phone width.

#![allow(unreachable_pub)]

mod webdriver;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::{json, Value};
use sqlx::PgPool;
use webdriver::Browser;

const A11Y: &str = include_str!("a11y.js");
const SECOND: Duration = Duration::from_secs(1);

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/console-screenshots")
        .canonicalize()
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots")
        })
}

/// Runs the accessibility check on the page and saves its screenshot as `name`.png.
async fn check_page(browser: &Browser, name: &str) {
    let problems = browser.script(A11Y, vec![]).await.unwrap();
    assert_eq!(problems, json!([]), "accessibility problems on {name}");
    browser
        .screenshot(&shots().join(format!("{name}.png")))
        .await
        .unwrap();
}

/// Goes to `url` and waits for its page's heading: a hash change redraws the page after
/// navigation returns, and the old page's fields must not be taken for the new one's.
async fn open(browser: &Browser, url: &str, heading: &str) {
    browser.goto(url).await.unwrap();
    browser
        .wait_text("main h1", heading, 10 * SECOND)
        .await
        .unwrap();
}

/// Waits until the rows matching `css` are exactly `expected` (each row's text contains
/// its entry): a redraw after navigation replaces the rows asynchronously.
async fn wait_rows(browser: &Browser, css: &str, expected: &[&str]) {
    let started = Instant::now();
    loop {
        let rows = browser
            .script(
                "return [...document.querySelectorAll(arguments[0])].map(tr => tr.textContent);",
                vec![json!(css)],
            )
            .await
            .unwrap();
        let rows: Vec<String> = serde_json::from_value(rows).unwrap();
        if rows.len() == expected.len() && rows.iter().zip(expected).all(|(r, e)| r.contains(e)) {
            return;
        }
        assert!(
            started.elapsed() < 10 * SECOND,
            "rows {css}: {rows:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Chooses `value` in the <select> named `name`.
async fn choose(browser: &Browser, name: &str, value: &str) {
    let option = browser
        .find(&format!("select[name='{name}'] option[value='{value}']"))
        .await
        .unwrap();
    browser.click(&option).await.unwrap();
}

async fn fill(browser: &Browser, css: &str, text: &str) {
    let field = browser.find(css).await.unwrap();
    browser.fill(&field, text).await.unwrap();
}

async fn click(browser: &Browser, css: &str) {
    let element = browser.find(css).await.unwrap();
    browser.click(&element).await.unwrap();
}

/// The id at the end of the page's `#/kind/<id>` address, once the page has moved there.
async fn id_in_url(browser: &Browser, kind: &str) -> String {
    let started = Instant::now();
    loop {
        let url = browser.url().await.unwrap();
        if let Some(rest) = url.split(&format!("#/{kind}/")).nth(1) {
            let id = rest.split(['/', '?']).next().unwrap_or_default();
            if id.len() == 36 {
                return id.to_string();
            }
        }
        assert!(
            started.elapsed() < 10 * SECOND,
            "never reached #/{kind}/<id>: {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the lifecycle button `action` is enabled (or not).
async fn action_enabled(browser: &Browser, action: &str, enabled: bool) {
    let started = Instant::now();
    loop {
        let button = browser
            .find(&format!("button[data-action='{action}']"))
            .await
            .unwrap();
        if let Ok(disabled) = browser.property(&button, "disabled").await {
            if (disabled == "false") == enabled {
                return;
            }
        }
        assert!(
            started.elapsed() < 10 * SECOND,
            "{action} never became {}",
            if enabled { "enabled" } else { "disabled" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn an_operator_runs_a_campaign_from_the_console(db: PgPool) {
    let rig = VoiceRig::start_as(db, VoiceOptions::default(), "rig@example.com")
        .await
        .unwrap();
    let base = rig.api.base.clone();
    let (talker, refuser, busy) = ("+12125550101", "+12125550102", "+12125550106");
    // Answers and says nothing: on the line until the operator hangs up.
    let silent = "+12125550107";
    rig.twilio.register_callee(
        silent,
        CalleeScript::answer_after(1_000).hang_up_after(90_000),
    );
    rig.twilio.register_callee(
        talker,
        CalleeScript::answer_after(1_500)
            .reply(400, "yes I am interested")
            .reply(400, "great thanks goodbye"),
    );
    rig.twilio.register_callee(
        refuser,
        CalleeScript::answer_after(1_500).reply(400, "sorry I am not interested"),
    );
    rig.twilio
        .register_callee(busy, CalleeScript::busy().ring(500));
    let browser = Browser::start().await.unwrap();
    let started = Instant::now();

    // Register: an unknown session lands on sign-in; the form's errors come from the API.
    browser.goto(&format!("{base}/")).await.unwrap();
    browser.find("form.auth").await.unwrap();
    check_page(&browser, "01-sign-in").await;
    click(&browser, "a[href='#/register']").await;
    fill(&browser, "input[name='organizationName']", "Acme Outbound").await;
    fill(&browser, "input[name='email']", "ops@acme.example").await;
    fill(&browser, "input[name='password']", "short").await;
    click(&browser, "form.auth button[type='submit']").await;
    browser
        .wait_text(
            "[data-field='password'] .field-error",
            "at least 8",
            5 * SECOND,
        )
        .await
        .unwrap();
    check_page(&browser, "02-register-error").await;
    fill(&browser, "input[name='password']", "correct horse battery").await;
    click(&browser, "form.auth button[type='submit']").await;
    browser
        .wait_text("main h1", "Overview", 10 * SECOND)
        .await
        .unwrap();

    // The session is an HttpOnly cookie: the page's script cannot read it.
    let cookies = browser
        .script("return document.cookie", vec![])
        .await
        .unwrap();
    let cookies = cookies.as_str().unwrap();
    assert!(cookies.contains("oc_csrf="), "{cookies}");
    assert!(
        !cookies.contains("oc_session"),
        "the session cookie is readable: {cookies}"
    );

    // An assistant.
    open(
        &browser,
        &format!("{base}/#/assistants/new"),
        "New assistant",
    )
    .await;
    fill(&browser, "input[name='name']", "Ava").await;
    fill(
        &browser,
        "textarea[name='systemPrompt']",
        "You are Ava from Acme. Keep answers short and record the outcome.",
    )
    .await;
    fill(
        &browser,
        "input[name='firstMessage']",
        "Hi, this is Ava, an AI assistant calling from Acme.",
    )
    .await;
    check_page(&browser, "03-assistant-new").await;
    click(&browser, "form button[type='submit']").await;
    let assistant = id_in_url(&browser, "assistants").await;
    browser
        .wait_text("main", "Version history", 10 * SECOND)
        .await
        .unwrap();
    // A second version, and the history shows what changed.
    fill(
        &browser,
        "input[name='voicemailMessage']",
        "Please call Acme back.",
    )
    .await;
    click(&browser, "form button[type='submit']").await;
    browser
        .wait_text("main h1", "(v2)", 10 * SECOND)
        .await
        .unwrap();
    browser
        .wait_text(
            ".diff ins",
            "+ voicemail: Please call Acme back.",
            10 * SECOND,
        )
        .await
        .unwrap();
    check_page(&browser, "03b-assistant-versions").await;

    // A trunk.
    open(&browser, &format!("{base}/#/trunks"), "Trunks").await;
    fill(
        &browser,
        "form:first-of-type input[name='name']",
        "Main line",
    )
    .await;
    fill(
        &browser,
        "form:first-of-type textarea[name='numbers']",
        "+12125550100",
    )
    .await;
    fill(
        &browser,
        "form:first-of-type input[name='callsPerSecond']",
        "20",
    )
    .await;
    click(&browser, "form:first-of-type button[type='submit']").await;
    browser
        .wait_text("table", "Main line", 10 * SECOND)
        .await
        .unwrap();
    check_page(&browser, "04-trunks").await;
    let trunks = rig.get("/api/v1/trunks").await.unwrap();
    assert_eq!(
        trunks["total"], 0,
        "the rig's own organization sees none of ours"
    );

    // A contact list from a CSV with two bad rows: each is reported with its reason.
    open(&browser, &format!("{base}/#/contacts"), "Contact lists").await;
    fill(&browser, "input[name='name']", "Spring customers").await;
    click(&browser, "form button[type='submit']").await;
    let list = id_in_url(&browser, "contacts").await;
    let csv = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::write(
        csv.path(),
        format!(
            "phone,name,timezone,plan\n{talker},Tess,America/New_York,gold\n{refuser},Rob,America/New_York,silver\n\
             {busy},Bea,America/New_York,gold\n{silent},Sid,America/New_York,gold\n12,Shorty,America/New_York,gold\n+12125550109,Zed,Mars/Olympus,gold\n"
        ),
    )
    .unwrap();
    let file = browser.find("input[type='file']").await.unwrap();
    browser
        .fill(&file, csv.path().to_str().unwrap())
        .await
        .unwrap();
    click(&browser, "form.card button[type='submit']").await;
    let report = browser
        .wait_text(".import-report", "4 rows added, 2 rejected", 15 * SECOND)
        .await
        .unwrap();
    let rows = browser
        .script(
            "return [...document.querySelectorAll('.import-report tbody tr')]
                 .map(tr => [...tr.cells].map(td => td.textContent));",
            vec![],
        )
        .await
        .unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{report}");
    assert_eq!(
        (&rows[0][0], &rows[0][1]),
        (&json!("6"), &json!("12")),
        "{rows:?}"
    );
    assert!(
        rows[0][2].as_str().unwrap().contains("invalid phone"),
        "{rows:?}"
    );
    assert_eq!(rows[1][0], "7", "{rows:?}");
    assert!(
        rows[1][2].as_str().unwrap().contains("Mars/Olympus"),
        "{rows:?}"
    );
    browser
        .wait_text("section.card table", "Tess", 10 * SECOND)
        .await
        .unwrap();
    check_page(&browser, "05-contact-list").await;

    // The search runs on the server over the whole list.
    fill(&browser, "input[name='q']", "bea").await;
    click(&browser, "form[role='search'] button").await;
    wait_rows(&browser, "section.card table tbody tr", &["Bea"]).await;

    // The campaign form: a wrong hour comes back from the API beside its field.
    open(&browser, &format!("{base}/#/campaigns/new"), "New campaign").await;
    fill(&browser, "input[name='name']", "Spring follow-up").await;
    choose(&browser, "assistantId", &assistant).await;
    choose(&browser, "contactListId", &list).await;
    let trunk = trunks_of(&browser, &base).await;
    choose(&browser, "trunkId", &trunk).await;
    fill(
        &browser,
        "input[name='schedule.timezone']",
        "America/New_York",
    )
    .await;
    fill(&browser, "input[name='schedule.startHour']", "0").await;
    fill(&browser, "input[name='schedule.endHour']", "30").await;
    for day in ["sat", "sun"] {
        let box_ = browser
            .find(&format!("input[name='day'][value='{day}']"))
            .await
            .unwrap();
        if browser.property(&box_, "checked").await.unwrap() == "false" {
            browser.click(&box_).await.unwrap();
        }
    }
    fill(&browser, "input[name='maxAttempts']", "2").await;
    click(&browser, "input[name='allowOutsideLegalHours']").await;
    click(&browser, "form button[type='submit']").await;
    browser
        .wait_text(
            "[data-field='schedule.endHour'] .field-error",
            "must be between 1 and 24",
            10 * SECOND,
        )
        .await
        .unwrap();
    // Nothing the API refused is lost from the form.
    let name = browser.find("input[name='name']").await.unwrap();
    assert_eq!(
        browser.property(&name, "value").await.unwrap(),
        "Spring follow-up"
    );
    check_page(&browser, "06-campaign-form-422").await;
    fill(&browser, "input[name='schedule.endHour']", "24").await;
    click(&browser, "form button[type='submit']").await;
    let campaign = id_in_url(&browser, "campaigns").await;

    // Draft: only Start is allowed. Start, pause (only Resume and Stop then), resume.
    action_enabled(&browser, "start", true).await;
    action_enabled(&browser, "pause", false).await;
    action_enabled(&browser, "resume", false).await;
    check_page(&browser, "07-campaign-draft").await;
    click(&browser, "button[data-action='start']").await;
    action_enabled(&browser, "pause", true).await;
    click(&browser, "button[data-action='pause']").await;
    action_enabled(&browser, "resume", true).await;
    action_enabled(&browser, "start", false).await;
    action_enabled(&browser, "pause", false).await;
    click(&browser, "button[data-action='resume']").await;
    action_enabled(&browser, "pause", true).await;

    // The live wall: calls appear and end without a reload (the event stream).
    click(&browser, "a[href='#/live']").await;
    browser
        .wait_text(".connection", "live", 10 * SECOND)
        .await
        .unwrap();
    browser
        .script("window.__sameDocument = true; return null;", vec![])
        .await
        .unwrap();
    // A card other than the silent callee's: that call must still be live for the
    // hang-up below, and the engine dials a campaign's contacts in no fixed order.
    browser.wait(".live-card", 30 * SECOND).await.unwrap();
    let started_waiting = Instant::now();
    let live_call = loop {
        let id = browser
            .script(
                "const card = [...document.querySelectorAll('.live-card')].find(c =>
                     !c.textContent.includes(arguments[0]));
                 return card ? card.dataset.callId : null;",
                vec![json!(silent)],
            )
            .await
            .unwrap();
        if let Some(id) = id.as_str() {
            break id.to_string();
        }
        assert!(
            started_waiting.elapsed() < 30 * SECOND,
            "no call but the silent callee's on the wall"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    check_page(&browser, "08-live-wall").await;
    // The call seen live moves to "Just ended" when it ends: only an event can do that
    // (the page never polls), and the page was never reloaded.
    browser
        .wait(
            &format!(".recent li[data-call-id='{live_call}']"),
            60 * SECOND,
        )
        .await
        .unwrap();
    // Hang up the silent callee's call from its card once it is in progress.
    let started_waiting = Instant::now();
    let silent_call = loop {
        let id = browser
            .script(
                "const card = [...document.querySelectorAll('.live-card')].find(c =>
                     c.textContent.includes(arguments[0]) && c.textContent.includes('in progress'));
                 return card ? card.dataset.callId : null;",
                vec![json!(silent)],
            )
            .await
            .unwrap();
        if let Some(id) = id.as_str() {
            break id.to_string();
        }
        assert!(
            started_waiting.elapsed() < 60 * SECOND,
            "{silent} never in progress on the wall"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    click(
        &browser,
        &format!(".live-card[data-call-id='{silent_call}'] button.danger"),
    )
    .await;
    browser
        .wait(
            &format!(".recent li[data-call-id='{silent_call}']"),
            20 * SECOND,
        )
        .await
        .unwrap();
    let ended: Value = browser
        .script(
            "return fetch('/api/v1/calls/' + arguments[0]).then(r => r.json());",
            vec![json!(silent_call)],
        )
        .await
        .unwrap();
    assert_eq!(ended["endReason"], "ended_by_operator", "{ended}");
    for number in [talker, refuser, busy, silent] {
        browser
            .wait_text(".recent", number, 60 * SECOND)
            .await
            .unwrap();
    }
    let same = browser
        .script("return window.__sameDocument === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the live wall reloaded");
    assert!(
        browser.all(".live-card").await.unwrap().is_empty(),
        "calls still live"
    );

    // The talker's call: transcript beside the recording; a click on a line seeks to it.
    let calls = rig_calls(&browser, &base, talker).await;
    open(&browser, &format!("{base}/#/calls"), "Calls").await;
    browser
        .wait_text("table", talker, 10 * SECOND)
        .await
        .unwrap();
    check_page(&browser, "09-calls").await;

    // Day filters: the talker's call is in its own (local) day and not in the next one.
    let day: Value = browser
        .script(
            "return fetch('/api/v1/calls/' + arguments[0]).then(r => r.json()).then(c => {
                 const d = new Date(c.createdAt), next = new Date(d.getTime() + 864e5);
                 const ymd = (x) => [x.getFullYear(), x.getMonth() + 1, x.getDate()]
                     .map((n) => String(n).padStart(2, '0')).join('-');
                 return [ymd(d), ymd(next)];
             });",
            vec![json!(calls)],
        )
        .await
        .unwrap();
    for (from, to, expect) in [(&day[0], &day[0], vec![talker]), (&day[1], &day[1], vec![])] {
        browser
            .script(
                "document.querySelector(\"input[name='from']\").value = arguments[0];
                 document.querySelector(\"input[name='to']\").value = arguments[1];",
                vec![from.clone(), to.clone()],
            )
            .await
            .unwrap();
        click(&browser, "form.filters button[type='submit']").await;
        if expect.is_empty() {
            browser
                .wait_text("main", "No calls match.", 10 * SECOND)
                .await
                .unwrap();
        } else {
            browser
                .wait_text("main table", expect[0], 10 * SECOND)
                .await
                .unwrap();
        }
    }
    open(&browser, &format!("{base}/#/calls/{calls}"), "Call to").await;
    browser
        .wait_text(".timeline", "interested", 20 * SECOND)
        .await
        .unwrap();
    browser
        .wait_text(".player-slot", "Stereo", 20 * SECOND)
        .await
        .unwrap();
    let lines = browser.all(".timeline .seek").await.unwrap();
    assert!(lines.len() >= 3, "transcript lines: {}", lines.len());
    let target = lines[2].clone();
    browser.click(&target).await.unwrap();
    let seek = browser
        .script(
            "const b = arguments[0]; const a = document.querySelector('audio');
             return {start: Number(b.dataset.startMs) / 1000, at: a.currentTime, duration: a.duration};",
            vec![target.as_arg()],
        )
        .await
        .unwrap();
    assert!(seek["duration"].as_f64().unwrap_or(0.0) > 1.0, "{seek}");
    let (want, at) = (
        seek["start"].as_f64().unwrap(),
        seek["at"].as_f64().unwrap(),
    );
    assert!(
        want > 0.0 && (at - want).abs() < 0.6,
        "seeked to {at}, line starts at {want}: {seek}"
    );
    check_page(&browser, "10-call").await;

    // The overview counts today's calls and draws the charts.
    open(&browser, &format!("{base}/#/"), "Overview").await;
    browser.wait("svg.chart", 10 * SECOND).await.unwrap();
    browser
        .wait_text(".tiles", "Calls today\n4", 10 * SECOND)
        .await
        .unwrap();
    check_page(&browser, "11-overview").await;

    // Stop: the busy contact's retry keeps the campaign open until the operator stops it.
    open(
        &browser,
        &format!("{base}/#/campaigns/{campaign}"),
        "Spring follow-up",
    )
    .await;
    browser
        .wait_text("main", "Attempts", 10 * SECOND)
        .await
        .unwrap();
    action_enabled(&browser, "stop", true).await;
    click(&browser, "button[data-action='stop']").await;
    browser.accept_alert().await.unwrap();
    for action in ["start", "pause", "resume", "stop"] {
        action_enabled(&browser, action, false).await;
    }
    browser
        .wait_text("main h1", "stopped", 10 * SECOND)
        .await
        .unwrap();
    check_page(&browser, "12-campaign-stopped").await;

    for (path, heading, name) in [
        ("#/assistants", "Assistants", "13-assistants"),
        ("#/api-keys", "API keys", "14-api-keys"),
        ("#/workers", "Workers", "15-workers"),
        ("#/dnc", "Do-Not-Call", "16-dnc"),
        ("#/campaigns", "Campaigns", "17-campaigns"),
    ] {
        open(&browser, &format!("{base}/{path}"), heading).await;
        browser
            .wait("main table, main .empty", 10 * SECOND)
            .await
            .unwrap();
        check_page(&browser, name).await;
    }

    // Phone width: the overview and a call page fit, with the menu behind its button.
    browser.set_size(390, 844).await.unwrap();
    open(&browser, &format!("{base}/#/calls/{calls}"), "Call to").await;
    browser
        .wait_text(".timeline", "interested", 10 * SECOND)
        .await
        .unwrap();
    check_page(&browser, "18-call-phone").await;
    open(&browser, &format!("{base}/#/"), "Overview").await;
    browser.wait("svg.chart", 10 * SECOND).await.unwrap();
    click(&browser, ".menu-toggle").await;
    browser
        .wait("nav.sidebar.open a[href='#/live']", 5 * SECOND)
        .await
        .unwrap();
    check_page(&browser, "19-overview-phone").await;
    click(&browser, ".menu-toggle").await;

    // Every list page fits the phone's width: wide tables scroll inside their own box.
    let list_page = format!("#/contacts/{list}");
    for (path, heading, name) in [
        ("#/campaigns", "Campaigns", "20-campaigns-phone"),
        ("#/calls", "Calls", "21-calls-phone"),
        (list_page.as_str(), "Spring customers", "22-contacts-phone"),
        ("#/live", "Live calls", "23-live-phone"),
        ("#/assistants", "Assistants", "24-assistants-phone"),
        ("#/dnc", "Do-Not-Call", "25-dnc-phone"),
    ] {
        open(&browser, &format!("{base}/{path}"), heading).await;
        browser
            .wait("main table, main .empty", 10 * SECOND)
            .await
            .unwrap();
        let overflow = browser
            .script(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap_or(i64::MAX) <= 0,
            "{name} is {overflow} px wider than the phone"
        );
        check_page(&browser, name).await;
    }

    browser.quit().await;
    println!("console walk took {:?}", started.elapsed());
}

/// The trunk the operator created (from the page's own API session, as a check that the
/// cookie works for script-driven requests too).
async fn trunks_of(browser: &Browser, _base: &str) -> String {
    let trunks: Value = browser
        .script(
            "return fetch('/api/v1/trunks').then(r => r.json());",
            vec![],
        )
        .await
        .unwrap();
    trunks["data"][0]["id"].as_str().unwrap().to_string()
}

/// The id of the call to `to`, asked through the page's session.
async fn rig_calls(browser: &Browser, _base: &str, to: &str) -> String {
    let started = Instant::now();
    loop {
        let calls: Value = browser
            .script(
                "return fetch('/api/v1/calls?perPage=50').then(r => r.json());",
                vec![],
            )
            .await
            .unwrap();
        let found = calls["data"].as_array().and_then(|calls| {
            calls
                .iter()
                .find(|c| c["to"] == to && !c["endReason"].is_null())
                .and_then(|c| c["id"].as_str())
                .map(str::to_string)
        });
        if let Some(id) = found {
            return id;
        }
        assert!(
            started.elapsed() < 30 * SECOND,
            "no finished call to {to}: {calls}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
