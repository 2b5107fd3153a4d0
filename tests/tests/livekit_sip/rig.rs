//! The rig on its own, through LiveKit's Twirp API with a token the test signs itself: a
//! dial reaches the sipp callee, and the callee's SIP answer comes back the way the
//! dialer reads it (`sip_status_code` in the Twirp error's `meta`).

use outbound_tests::livekit::{Callee, LiveKitServer, LiveKitSipService, Scenario};
use serde_json::{json, Value};

async fn trunk_to(livekit: &LiveKitServer, callee: &Callee) -> String {
    let trunk = livekit
        .sip(
            "CreateSIPOutboundTrunk",
            json!({"trunk": {"name": "rig", "address": format!("127.0.0.1:{}", callee.port),
                             "numbers": ["+15550001111"]}}),
        )
        .await
        .unwrap();
    trunk["sip_trunk_id"].as_str().unwrap().to_string()
}

async fn dial(livekit: &LiveKitServer, trunk: &str, room: &str) -> (u16, Value) {
    livekit
        .twirp(
            "SIP",
            "CreateSIPParticipant",
            json!({"sip_trunk_id": trunk, "sip_call_to": "+15550002222", "room_name": room,
                   "participant_identity": "callee", "wait_until_answered": true,
                   "ringing_timeout": "3s"}),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn livekit_sip_reaches_sipp_callees_and_reports_their_sip_answers() {
    let livekit = LiveKitServer::start().await.unwrap();
    let sip = LiveKitSipService::start(&livekit).await.unwrap();

    let answer = Callee::start(Scenario::Answer { ring_ms: 200 })
        .await
        .unwrap();
    let trunk = trunk_to(&livekit, &answer).await;
    let (status, body) = dial(&livekit, &trunk, "rig-answer").await;
    assert_eq!(status, 200, "{body}\n{}", sip.log());
    assert_eq!(body["participant_identity"], "callee");
    assert_eq!(answer.invites(), 1);

    let busy = Callee::start(Scenario::Busy).await.unwrap();
    let trunk = trunk_to(&livekit, &busy).await;
    let (status, body) = dial(&livekit, &trunk, "rig-busy").await;
    assert_ne!(status, 200);
    assert_eq!(body["meta"]["sip_status_code"], "486", "{body}");
    assert_eq!(busy.invites(), 1);
}
