//! The agent-worker protocol's messages: protobuf (`livekit-protocol`) in binary WebSocket
//! frames. Builders for what the worker sends, a decoder for what the server sends, the
//! `/agent` address and the access token (`video.agent = true`) that opens it.

use livekit_api::access_token::{AccessToken, AccessTokenError, VideoGrants};
use livekit_protocol::{self as proto, server_message, worker_message};
use prost::Message as _;

/// Reported as the worker's version at registration.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The WebSocket address of the agent service for a server at `url` (`http(s)://` or
/// `ws(s)://`, with or without a trailing slash).
pub(crate) fn agent_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    let url = if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        url.to_string()
    };
    format!("{url}/agent?protocol=1")
}

/// The HTTP address of the server's Twirp services for `url` (`ws(s)://` or `http(s)://`).
pub(crate) fn http_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        url.to_string()
    }
}

/// A token that lets its bearer register as an agent worker.
pub(crate) fn agent_token(api_key: &str, api_secret: &str) -> Result<String, AccessTokenError> {
    AccessToken::with_api_key(api_key, api_secret)
        .with_grants(VideoGrants {
            agent: true,
            ..VideoGrants::default()
        })
        .to_jwt()
}

/// One message for the server, encoded.
pub(crate) fn encode(message: worker_message::Message) -> Vec<u8> {
    proto::WorkerMessage {
        message: Some(message),
    }
    .encode_to_vec()
}

/// One message from the server; `None` for an empty envelope (a newer server's message
/// this version does not know decodes as one).
pub(crate) fn decode(bytes: &[u8]) -> Result<Option<server_message::Message>, prost::DecodeError> {
    Ok(proto::ServerMessage::decode(bytes)?.message)
}

/// Registers a room-job worker under `agent_name`.
pub(crate) fn register(agent_name: &str, ping_interval_sec: u32) -> worker_message::Message {
    worker_message::Message::Register(proto::RegisterWorkerRequest {
        r#type: proto::JobType::JtRoom as i32,
        agent_name: agent_name.to_string(),
        version: VERSION.to_string(),
        ping_interval: ping_interval_sec,
        ..Default::default()
    })
}

/// Takes or declines the job offered by an `AvailabilityRequest`.
pub(crate) fn availability(job_id: &str, available: bool) -> worker_message::Message {
    worker_message::Message::Availability(proto::AvailabilityResponse {
        job_id: job_id.to_string(),
        available,
        // The identity the room participant will have (next issue: it joins with the
        // assignment's token, which LiveKit mints for this identity).
        participant_identity: if available {
            format!("agent-{job_id}")
        } else {
            String::new()
        },
        participant_name: if available {
            "agent".into()
        } else {
            String::new()
        },
        ..Default::default()
    })
}

/// What the worker tells the server about its load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WorkerReport {
    /// Takes new jobs.
    pub(crate) available: bool,
    /// 0..1: the fullest of the job limit and the worker's call slots.
    pub(crate) load: f32,
    pub(crate) job_count: u32,
    pub(crate) draining: bool,
}

/// `UpdateWorkerStatus` for `report`; `seq` grows per registration.
pub(crate) fn worker_status(report: WorkerReport, seq: u64) -> worker_message::Message {
    let status = if report.available {
        proto::WorkerStatus::WsAvailable
    } else {
        proto::WorkerStatus::WsFull
    };
    worker_message::Message::UpdateWorker(proto::UpdateWorkerStatus {
        status: Some(status as i32),
        load: report.load,
        job_count: report.job_count,
        draining: report.draining,
        seq,
    })
}

/// `UpdateJobStatus` for one job.
pub(crate) fn job_status(
    job_id: &str,
    status: proto::JobStatus,
    error: &str,
) -> worker_message::Message {
    worker_message::Message::UpdateJob(proto::UpdateJobStatus {
        job_id: job_id.to_string(),
        status: status as i32,
        error: error.to_string(),
    })
}

/// A ping the server answers with a pong.
pub(crate) fn ping(now_ms: i64) -> worker_message::Message {
    worker_message::Message::Ping(proto::WorkerPing { timestamp: now_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_url_follows_the_servers_scheme() {
        assert_eq!(
            agent_url("http://127.0.0.1:7880"),
            "ws://127.0.0.1:7880/agent?protocol=1"
        );
        assert_eq!(
            agent_url("https://lk.example.com/"),
            "wss://lk.example.com/agent?protocol=1"
        );
        assert_eq!(
            agent_url("wss://lk.example.com"),
            "wss://lk.example.com/agent?protocol=1"
        );
        assert_eq!(http_url("wss://lk.example.com/"), "https://lk.example.com");
        assert_eq!(http_url("ws://127.0.0.1:7880"), "http://127.0.0.1:7880");
        assert_eq!(http_url("http://127.0.0.1:7880"), "http://127.0.0.1:7880");
    }

    #[test]
    fn the_token_carries_the_agent_grant_and_verifies_with_the_secret() {
        let token = agent_token("key", "a-secret-of-at-least-32-characters!").unwrap();
        let claims = livekit_api::access_token::TokenVerifier::with_api_key(
            "key",
            "a-secret-of-at-least-32-characters!",
        )
        .verify(&token)
        .unwrap();
        assert!(claims.video.agent);
        assert!(!claims.video.room_join);
    }

    #[test]
    fn a_register_request_round_trips_as_protobuf() {
        let bytes = encode(register("outbound-agent", 5));
        let decoded = proto::WorkerMessage::decode(bytes.as_slice()).unwrap();
        let Some(worker_message::Message::Register(request)) = decoded.message else {
            panic!("not a register request: {decoded:?}");
        };
        assert_eq!(request.r#type, proto::JobType::JtRoom as i32);
        assert_eq!(request.agent_name, "outbound-agent");
        assert_eq!(request.ping_interval, 5);
        assert_eq!(request.version, VERSION);
    }

    #[test]
    fn a_full_worker_reports_ws_full_with_its_load() {
        let report = WorkerReport {
            available: false,
            load: 1.0,
            job_count: 2,
            draining: true,
        };
        let worker_message::Message::UpdateWorker(update) = worker_status(report, 7) else {
            panic!("not a worker update");
        };
        assert_eq!(update.status, Some(proto::WorkerStatus::WsFull as i32));
        assert_eq!(
            (update.load, update.job_count, update.draining, update.seq),
            (1.0, 2, true, 7)
        );
    }

    #[test]
    fn server_messages_decode_and_unknown_ones_are_empty() {
        let pong = proto::ServerMessage {
            message: Some(server_message::Message::Pong(proto::WorkerPong {
                last_timestamp: 1,
                timestamp: 2,
            })),
        }
        .encode_to_vec();
        assert!(matches!(
            decode(&pong).unwrap(),
            Some(server_message::Message::Pong(_))
        ));
        assert_eq!(decode(&[]).unwrap(), None);
        assert!(decode(&[0xff, 0xff]).is_err());
    }
}
