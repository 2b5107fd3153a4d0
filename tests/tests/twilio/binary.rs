//! The `twilio-emulator` binary, as the product's crash tests will run it: a separate
//! process configured and inspected over HTTP only.

use outbound_tests::twilio::{CallReport, CalleeScript};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn the_binary_prints_its_base_url_and_is_scripted_and_inspected_over_http() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twilio-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--account-sid",
            "ACbin",
            "--auth-token",
            "secret",
        ])
        .args(["--cps", "0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .await
        .expect("a line");
    let base = first.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let http = reqwest::Client::new();
    let script = CalleeScript::busy();
    let put = http
        .put(format!("{base}/_emulator/callees/+15554000001"))
        .json(&script)
        .send()
        .await
        .expect("reachable");
    assert_eq!(put.status().as_u16(), 204);
    let created: serde_json::Value = http
        .post(format!("{base}/2010-04-01/Accounts/ACbin/Calls.json"))
        .basic_auth("ACbin", Some("secret"))
        .form(&[
            ("To", "+15554000001"),
            ("From", "+15550000000"),
            ("Twiml", "<Response/>"),
        ])
        .send()
        .await
        .expect("reachable")
        .json()
        .await
        .expect("JSON");
    let sid = created["sid"].as_str().expect("sid");
    let ended: CallReport = http
        .get(format!("{base}/_emulator/calls/{sid}/wait?timeout_ms=5000"))
        .send()
        .await
        .expect("reachable")
        .json()
        .await
        .expect("a call report");
    assert_eq!(ended.status, "busy");
    let all: Vec<CallReport> = http
        .get(format!("{base}/_emulator/calls"))
        .send()
        .await
        .expect("reachable")
        .json()
        .await
        .expect("call reports");
    assert_eq!(all.len(), 1);
    let dials: serde_json::Value = http
        .get(format!("{base}/_emulator/dials"))
        .send()
        .await
        .expect("reachable")
        .json()
        .await
        .expect("JSON");
    assert_eq!(dials["+15554000001"], 1);
    let _ = child.kill().await;
}
