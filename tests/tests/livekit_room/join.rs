//! The participant alone: it joins with an agent token, both peer connections connect
//! (ICE, DTLS, SRTP) and its Opus track is published, as livekit-server itself reports;
//! leaving removes it.

use std::time::Duration;

use agent_worker::transport::livekit::room::{CalleeState, Room, RoomEnd};
use outbound_tests::livekit::{jwt_hs256, LiveKitServer};
use serde_json::json;

fn agent_token(livekit: &LiveKitServer, room: &str, identity: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": livekit.api_key, "sub": identity, "nbf": now - 10, "exp": now + 600,
        "kind": "agent",
        "video": {"room": room, "roomJoin": true, "canPublish": true, "canSubscribe": true,
                  "canPublishData": true},
    });
    jwt_hs256(&claims, livekit.api_secret.as_bytes())
}

async fn participants(livekit: &LiveKitServer, room: &str) -> Vec<serde_json::Value> {
    let (status, list) = livekit
        .twirp("RoomService", "ListParticipants", json!({"room": room}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{list}");
    list["participants"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_agent_joins_publishes_its_audio_track_and_leaves() {
    let livekit = LiveKitServer::start().await.unwrap();
    let (status, created) = livekit
        .twirp("RoomService", "CreateRoom", json!({"name": "join-test"}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{created}");
    let token = agent_token(&livekit, "join-test", "agent-join");
    let started = std::time::Instant::now();
    let room = Room::join(&livekit.url, &token).await.unwrap();
    eprintln!("joined and connected in {:?}", started.elapsed());
    assert_eq!(*room.callee().borrow(), CalleeState::Absent);

    // The server sees the agent with one published (not muted) microphone track.
    let mut published = false;
    for _ in 0..100 {
        let list = participants(&livekit, "join-test").await;
        let agent = list.iter().find(|p| p["identity"] == "agent-join");
        if let Some(agent) = agent {
            let tracks = agent["tracks"].as_array().cloned().unwrap_or_default();
            if tracks.iter().any(|t| {
                t["source"] == "MICROPHONE" && t["mime_type"] == "audio/opus" && t["muted"] == false
            }) {
                assert_eq!(agent["kind"], "AGENT", "{agent}");
                published = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        published,
        "{:#?}",
        participants(&livekit, "join-test").await
    );

    assert_eq!(room.leave().await, RoomEnd::Left);
    for _ in 0..100 {
        if participants(&livekit, "join-test").await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the agent is still in the room after leaving");
}

#[tokio::test]
async fn a_deleted_room_ends_the_participant() {
    let livekit = LiveKitServer::start().await.unwrap();
    let token = agent_token(&livekit, "deleted", "agent-deleted");
    let room = Room::join(&livekit.url, &token).await.unwrap();
    let (status, _) = livekit
        .twirp("RoomService", "DeleteRoom", json!({"room": "deleted"}))
        .await
        .unwrap();
    assert_eq!(status, 200);
    tokio::time::timeout(Duration::from_secs(10), room.ended())
        .await
        .expect("the participant noticed the room's deletion");
    assert_eq!(room.leave().await, RoomEnd::Closed);
}
