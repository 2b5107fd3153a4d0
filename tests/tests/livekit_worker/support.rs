//! What the LiveKit worker tests share: the control plane on a fresh database with a call
//! and its token, agent workers in this process pointed at a real livekit-server, rooms and
//! dispatches through `livekit-api`, and a TCP proxy that can cut the worker's connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_worker::app::Worker;
use agent_worker::config::WorkerConfig;
use agent_worker::transport::livekit::LiveKitAgent;
use control_plane::app::Application;
use control_plane::config::Settings;
use livekit_api::services::agent_dispatch::AgentDispatchClient;
use livekit_api::services::room::{CreateRoomOptions, RoomClient};
use livekit_protocol::CreateAgentDispatchRequest;
use outbound_tests::livekit::LiveKitServer;
use secrecy::SecretString;
use serde_json::{json, Value};
use shared::token::CallTokens;
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use uuid::Uuid;

pub(crate) const AGENT_NAME: &str = "outbound-agent-test";
pub(crate) const WORKER_KEY: &str = "test-worker-key";
pub(crate) const TOKEN_SECRET: &str = "test-worker-token-secret";

/// The control plane (engine off) on a free port with `db`; returns its base URL.
pub(crate) async fn control_plane(db: &PgPool) -> String {
    let mut s = Settings::defaults("postgres://unused: the test hands in its pool").unwrap();
    // The job's events URL is built from the public URL: it must be the real port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    s.server.port = port;
    s.server.public_url = format!("http://127.0.0.1:{port}");
    s.server.shutdown_grace_sec = 1;
    s.database.max_connections = 5;
    s.database.migrate = false;
    s.engine.enabled = false;
    s.workers.api_key = SecretString::from(WORKER_KEY);
    s.workers.token_secret = SecretString::from(TOKEN_SECRET);
    s.recordings.store_url = std::env::temp_dir()
        .join("livekit-worker-test")
        .display()
        .to_string();
    let app = Application::build_with_pool(s, db.clone()).await.unwrap();
    let base = format!("http://{}", app.address());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    base
}

/// An organization with an assistant, through the API; returns (org, assistant).
pub(crate) async fn organization(base: &str) -> (Uuid, Uuid) {
    let http = reqwest::Client::new();
    let body: Value = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(
            &json!({"email": "owner@acme.example.com", "password": "s3cret-password",
                      "organizationName": "Acme"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org = body["organization"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let session = body["token"].as_str().unwrap();
    let assistant: Value = http
        .post(format!("{base}/api/v1/assistants"))
        .bearer_auth(session)
        .json(
            &json!({"name": "Sales", "systemPrompt": "You call {{name}}.",
                       "firstMessage": "Hi, this is Sam, an AI assistant."}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (org, assistant["id"].as_str().unwrap().parse().unwrap())
}

/// A LiveKit call of `org`, straight in the database, and the dispatch metadata the
/// control plane gives LiveKit for it (`{callId, token, controlPlaneUrl}`).
pub(crate) async fn call(
    db: &PgPool,
    base: &str,
    (org, assistant): (Uuid, Uuid),
) -> (Uuid, String) {
    let call = Uuid::now_v7();
    sqlx::query(
        "insert into calls (id, org_id, assistant_id, assistant_version, mode, to_phone, variables)
         values ($1, $2, $3, 1, 'livekit_sip', '+12125550142', '{\"name\": \"Ada\"}')",
    )
    .bind(call)
    .bind(org)
    .bind(assistant)
    .execute(db)
    .await
    .unwrap();
    let expires = chrono::Utc::now().timestamp() + 3600;
    let token = CallTokens::new(TOKEN_SECRET.as_bytes()).mint(call, org, expires);
    let metadata = json!({"callId": call, "token": token, "controlPlaneUrl": base});
    (call, metadata.to_string())
}

/// The call's stored events' payloads, in order.
pub(crate) async fn events(db: &PgPool, call: Uuid) -> Vec<Value> {
    sqlx::query_scalar("select payload from call_events where call_id = $1 order by seq")
        .bind(call)
        .fetch_all(db)
        .await
        .unwrap()
}

/// Polls `check` every 50 ms until it holds or `within` passes.
pub(crate) async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An agent worker in this process: its shared state and its LiveKit side.
pub(crate) struct TestWorker {
    pub(crate) worker: Arc<Worker>,
    pub(crate) livekit: LiveKitAgent,
}

/// Starts a worker for the control plane at `base` that registers at `livekit_url`
/// (the server's, or a proxy's) with at most `max_jobs` LiveKit jobs.
pub(crate) fn worker(
    base: &str,
    livekit: &LiveKitServer,
    livekit_url: &str,
    max_jobs: u32,
    edit: impl FnOnce(&mut WorkerConfig),
) -> TestWorker {
    let mut config = WorkerConfig::default();
    config.recording.enabled = false;
    config.control_plane.url = base.to_string();
    config.control_plane.api_key = SecretString::from(WORKER_KEY);
    config.control_plane.token_secret = SecretString::from(TOKEN_SECRET);
    config.livekit.url = Some(livekit_url.to_string());
    config.livekit.api_key = Some(livekit.api_key.clone());
    config.livekit.api_secret = Some(SecretString::from(livekit.api_secret.clone()));
    config.livekit.agent_name = AGENT_NAME.to_string();
    config.livekit.max_jobs = max_jobs;
    config.livekit.status_interval_ms = 500;
    config.livekit.room_check_ms = 200;
    // Two workers in one process need their own ids (the default is host and pid).
    config.server.worker_id = Some(format!("test-worker-{}", Uuid::new_v4().simple()));
    config.livekit.reconnect_initial_ms = 100;
    config.livekit.reconnect_max_ms = 1_000;
    edit(&mut config);
    // `RUST_LOG=agent_worker=debug` shows the worker's side of a failing test.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let worker = Worker::new(config).unwrap();
    let livekit = LiveKitAgent::start(&worker)
        .unwrap()
        .expect("livekit.url is set");
    TestWorker { worker, livekit }
}

impl TestWorker {
    /// Waits until LiveKit has registered the worker `times` times in all.
    pub(crate) async fn registered(&self, times: u64) {
        eventually(Duration::from_secs(10), "the worker registers", || async {
            self.livekit.registrations() >= times
        })
        .await;
    }
}

/// Rooms and dispatches at the server, as the control plane's dialer makes them.
pub(crate) struct Dispatcher {
    rooms: RoomClient,
    dispatch: AgentDispatchClient,
}

impl Dispatcher {
    pub(crate) fn new(livekit: &LiveKitServer) -> Self {
        Self::at(&livekit.url, livekit)
    }

    /// The server at `url` with `keys`' key pair.
    pub(crate) fn at(url: &str, keys: &LiveKitServer) -> Self {
        Self {
            rooms: RoomClient::with_api_key(url, &keys.api_key, &keys.api_secret),
            dispatch: AgentDispatchClient::with_api_key(url, &keys.api_key, &keys.api_secret),
        }
    }

    /// Creates `room` and dispatches the agent to it with `metadata`; returns the
    /// dispatch's id.
    pub(crate) async fn dispatch(&self, room: &str, metadata: &str) -> String {
        // A restarted server answers "no response from servers" while Redis still names
        // its previous node: ask again for a while.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while let Err(error) = self
            .rooms
            .create_room(room, CreateRoomOptions::default())
            .await
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "CreateRoom: {error}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.dispatch
            .create_dispatch(CreateAgentDispatchRequest {
                agent_name: AGENT_NAME.to_string(),
                room: room.to_string(),
                metadata: metadata.to_string(),
                ..Default::default()
            })
            .await
            .unwrap()
            .id
    }

    /// Deletes a dispatch: LiveKit terminates its job (the room stays).
    pub(crate) async fn delete_dispatch(&self, id: &str, room: &str) {
        self.dispatch.delete_dispatch(id, room).await.unwrap();
    }

    /// Deletes `room` (how a call is hung up): LiveKit terminates its job.
    pub(crate) async fn delete_room(&self, room: &str) {
        self.rooms.delete_room(room).await.unwrap();
    }
}

/// A TCP proxy in front of the LiveKit server whose connections can be cut.
pub(crate) struct Proxy {
    pub(crate) url: String,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub(crate) async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let held = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                held.lock().unwrap().push(task);
            }
        });
        Self {
            url,
            connections,
            accept,
        }
    }

    /// Drops every connection through the proxy (new ones still pass).
    pub(crate) fn cut(&self) {
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
