//! A stand-in for the agent worker's LiveKit side, until the real one joins rooms: it
//! finds the jobs the control plane dispatched by asking the real livekit-server
//! (`ListRooms`, then `ListDispatch` per call room), and does what the worker does on a
//! job: reads `{callId, token, controlPlaneUrl}` from the dispatch metadata, fetches the
//! call's job with the token and reports `connected`. LiveKit, livekit-sip and the
//! callees stay real; only our own worker is stood in for, as `StandInWorker` does for
//! Media Streams.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::livekit::LiveKitServer;

/// One dispatch the stand-in took.
#[derive(Debug, Clone)]
pub struct TakenJob {
    pub room: String,
    pub agent_name: String,
    /// The dispatch metadata, parsed.
    pub metadata: Value,
    /// `GET /internal/v1/calls/{id}/job`'s status.
    pub job_status: u16,
    /// The events post's status.
    pub events_status: u16,
}

/// A running stand-in; stops when dropped.
pub struct DispatchedWorker {
    jobs: Arc<Mutex<Vec<TakenJob>>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for DispatchedWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchedWorker").finish_non_exhaustive()
    }
}

impl Drop for DispatchedWorker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DispatchedWorker {
    /// Takes every dispatch for `agent_name` on `livekit`'s call rooms.
    pub fn start(livekit: Arc<LiveKitServer>, agent_name: &str) -> Self {
        let jobs = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(take_jobs(livekit, agent_name.to_string(), jobs.clone()));
        Self { jobs, task }
    }

    /// The jobs taken so far.
    pub fn jobs(&self) -> Vec<TakenJob> {
        self.jobs.lock().map(|j| j.clone()).unwrap_or_default()
    }
}

async fn take_jobs(
    livekit: Arc<LiveKitServer>,
    agent_name: String,
    jobs: Arc<Mutex<Vec<TakenJob>>>,
) {
    let http = reqwest::Client::new();
    let mut seen = HashSet::new();
    loop {
        for room in livekit.room_names().await.unwrap_or_default() {
            if !room.starts_with("call-") || seen.contains(&room) {
                continue;
            }
            let Ok((200, list)) = livekit
                .twirp(
                    "AgentDispatchService",
                    "ListDispatch",
                    json!({"room": room}),
                )
                .await
            else {
                continue;
            };
            let dispatches = field(&list, "agent_dispatches", "agentDispatches");
            let Some(dispatch) = dispatches.as_array().and_then(|d| {
                d.iter()
                    .find(|d| field(d, "agent_name", "agentName") == agent_name.as_str())
            }) else {
                continue;
            };
            seen.insert(room.clone());
            let metadata: Value = dispatch["metadata"]
                .as_str()
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or(Value::Null);
            let taken = take(&http, &room, &agent_name, metadata).await;
            if let Ok(mut jobs) = jobs.lock() {
                jobs.push(taken);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the worker does with a job before media: fetch the call, report `connected`.
async fn take(http: &reqwest::Client, room: &str, agent_name: &str, metadata: Value) -> TakenJob {
    let call_id = metadata["callId"].as_str().unwrap_or_default();
    let token = metadata["token"].as_str().unwrap_or_default();
    let base = metadata["controlPlaneUrl"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/');
    let job_status = match http
        .get(format!("{base}/internal/v1/calls/{call_id}/job"))
        .bearer_auth(token)
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    };
    let connected = json!({"events": [{"seq": 1, "atMs": 0, "type": "connected",
                                        "workerId": "livekit-stand-in"}]});
    let events_status = match http
        .post(format!("{base}/internal/v1/calls/{call_id}/events"))
        .bearer_auth(token)
        .json(&connected)
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    };
    TakenJob {
        room: room.to_string(),
        agent_name: agent_name.to_string(),
        metadata,
        job_status,
        events_status,
    }
}

/// LiveKit's JSON spells fields in proto names; accept the camelCase spelling too.
fn field<'a>(value: &'a Value, snake: &str, camel: &str) -> &'a Value {
    match &value[snake] {
        Value::Null => &value[camel],
        found => found,
    }
}
