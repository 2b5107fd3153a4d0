//! The emulator's Messaging side speaks Twilio's formats: the Messages resource's answers
//! and refusals, signed status callbacks in order, inbound texts posted to the number's
//! SmsUrl, and the default opt-out handling (21610 after STOP until START).

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::post;
use axum::Router;
use outbound_tests::twilio::{signature, Emulator, EmulatorConfig, EmulatorHandle, NumberHooks};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// A webhook the stand-in received: its path, form, and whether the signature held.
type Received = Arc<Mutex<Vec<(String, Vec<(String, String)>, bool)>>>;

/// A stand-in for the product: records every signed form POST and answers empty TwiML.
async fn stand_in(token: String) -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let state = (base.clone(), token, received.clone());
    let app = Router::new()
        .route("/{*path}", post(record))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, received)
}

async fn record(
    State((base, token, received)): State<(String, String, Received)>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> &'static str {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let signature = headers
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = signature::validate(&token, &format!("{base}{uri}"), &params, signature);
    received
        .lock()
        .unwrap()
        .push((uri.path().to_string(), params, ok));
    "<Response/>"
}

async fn create(twilio: &EmulatorHandle, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(twilio.calls_url().replace("Calls.json", "Messages.json"))
        .basic_auth(twilio.account_sid(), Some(twilio.auth_token()))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_messages_resource_answers_and_refuses_as_twilio_does() {
    let twilio = Emulator::start(EmulatorConfig::unlimited()).await.unwrap();
    let (base, received) = stand_in(twilio.auth_token().to_string()).await;
    let ours = "+14155550100";
    let them = "+14155550123";
    twilio.configure_number(
        ours,
        NumberHooks {
            sms_url: Some(format!("{base}/sms")),
            ..NumberHooks::default()
        },
    );
    let status_url = format!("{base}/status?messageId=m1");
    for (form, code) in [
        (vec![("To", them), ("From", ours)], 21602),
        (vec![("From", ours), ("Body", "hi")], 21604),
        (vec![("To", "12"), ("From", ours), ("Body", "hi")], 21211),
        (
            vec![("To", them), ("From", "+14155550999"), ("Body", "hi")],
            21606,
        ),
    ] {
        let (status, body) = create(&twilio, &form).await;
        assert_eq!((status, body["code"].as_u64()), (400, Some(code)), "{body}");
    }
    let (status, body) = create(
        &twilio,
        &[
            ("To", them),
            ("From", ours),
            ("Body", "hi"),
            ("StatusCallback", &status_url),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["sid"].as_str().unwrap().starts_with("SM"));
    assert_eq!(body["status"], "queued");
    assert_eq!(body["num_segments"], "1");
    // Statuses follow, signed: sent, then delivered with the carrier's done date.
    for _ in 0..100 {
        if received.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    {
        let got = received.lock().unwrap();
        let statuses: Vec<&str> = got
            .iter()
            .map(|(_, p, _)| {
                p.iter()
                    .find(|(k, _)| k == "MessageStatus")
                    .unwrap()
                    .1
                    .as_str()
            })
            .collect();
        assert_eq!(statuses, ["sent", "delivered"]);
        assert!(got.iter().all(|(path, _, ok)| path == "/status" && *ok));
        assert!(got[1].1.iter().any(|(k, _)| k == "RawDlrDoneDate"));
    }

    // STOP reaches the SmsUrl (signed, Twilio's parameters) and blocks further sends.
    let (sid, answer) = twilio.send_sms(them, ours, "stop").await.unwrap();
    assert_eq!(answer, 200);
    {
        let got = received.lock().unwrap();
        let (path, params, ok) = got.last().unwrap();
        assert_eq!(path, "/sms");
        assert!(*ok);
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("MessageSid"), Some(sid.as_str()));
        assert_eq!(get("Body"), Some("stop"));
        assert_eq!(get("SmsStatus"), Some("received"));
        assert_eq!(get("To"), Some(ours));
    }
    let (status, body) = create(&twilio, &[("To", them), ("From", ours), ("Body", "hi")]).await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (400, Some(21610)),
        "{body}"
    );
    assert!(twilio
        .messages()
        .iter()
        .any(|m| m.direction == "outbound-reply" && m.to == them && m.body.contains("START")));
    twilio.send_sms(them, ours, "START").await.unwrap();
    let (status, _) = create(&twilio, &[("To", them), ("From", ours), ("Body", "hi")]).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn the_set_up_api_configures_a_number_and_texts_it() {
    let twilio = Emulator::start(EmulatorConfig::unlimited()).await.unwrap();
    let (base, received) = stand_in(twilio.auth_token().to_string()).await;
    let client = reqwest::Client::new();
    // The control plane's `webhooks` object, as the README's tour passes it.
    let hooks = serde_json::json!({"voiceUrl": format!("{base}/voice"),
        "statusCallbackUrl": format!("{base}/status"), "smsUrl": format!("{base}/sms")});
    let put = client
        .put(format!(
            "{}/_emulator/numbers/%2B14155550100",
            twilio.base_url()
        ))
        .json(&hooks)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let texted: Value = client
        .post(format!("{}/_emulator/inbound-sms", twilio.base_url()))
        .json(&serde_json::json!({"from": "+12125550142", "to": "+14155550100", "body": "hi"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(texted["webhookStatus"], 200, "{texted}");
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "/sms");
    assert!(got[0].2, "signed");
    let messages: Value = client
        .get(format!("{}/_emulator/messages", twilio.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(messages[0]["direction"], "inbound");
}
