//! One WebSocket to the agent service: connect with the agent token, register, then answer
//! offers, start assigned jobs, pass on terminations, report load and ping until the
//! connection is lost or the worker has drained.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use livekit_protocol::{self as proto, server_message, worker_message};
use secrecy::ExposeSecret;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::{job, lock, wire, Agent};

/// Connecting and registering each have this long (the server allows 10 s to register).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// An offer LiveKit never followed with an assignment gives its slot back after this.
const OFFER_TTL: Duration = Duration::from_secs(30);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a connection ended before the worker drained.
#[derive(Debug)]
pub(super) struct Lost {
    /// It had registered (so the reconnect backoff starts over).
    pub(super) registered: bool,
    pub(super) error: anyhow::Error,
}

fn lost(registered: bool, error: impl Into<anyhow::Error>) -> Lost {
    Lost {
        registered,
        error: error.into(),
    }
}

/// Runs one connection; `Ok` once the worker has drained and told the server so.
pub(super) async fn run(
    agent: &Arc<Agent>,
    updates: &mut tokio::sync::mpsc::Receiver<worker_message::Message>,
) -> Result<(), Lost> {
    let mut socket = connect(agent).await.map_err(|e| lost(false, e))?;
    let ping_sec = agent.status_interval.as_secs().max(1) as u32;
    send(&mut socket, wire::register(&agent.agent_name, ping_sec))
        .await
        .map_err(|e| lost(false, e))?;
    let registration = tokio::time::timeout(HANDSHAKE_TIMEOUT, registered(&mut socket))
        .await
        .map_err(|_| lost(false, anyhow::anyhow!("no registration answer in time")))?
        .map_err(|e| lost(false, e))?;
    agent.registrations.fetch_add(1, Ordering::AcqRel);
    *lock(&agent.registered_as) = Some(registration.worker_id.clone());
    tracing::info!(livekit_worker_id = %registration.worker_id, agent_name = %agent.agent_name,
        server = ?registration.server_info.map(|s| s.version), "registered with LiveKit");

    let mut connection = Connection {
        agent: agent.clone(),
        socket,
        seq: 0,
        heard: Instant::now(),
    };
    connection.run(updates).await.map_err(|e| lost(true, e))
}

async fn connect(agent: &Agent) -> anyhow::Result<Socket> {
    let token = wire::agent_token(&agent.api_key, agent.api_secret.expose_secret())?;
    let mut request = agent.url.as_str().into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    let (socket, _) =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::connect_async(request))
            .await
            .map_err(|_| anyhow::anyhow!("connecting to {} timed out", agent.url))??;
    Ok(socket)
}

/// Waits for `RegisterWorkerResponse`.
async fn registered(socket: &mut Socket) -> anyhow::Result<proto::RegisterWorkerResponse> {
    while let Some(message) = socket.next().await {
        if let Message::Binary(bytes) = message? {
            if let Some(server_message::Message::Register(response)) = wire::decode(&bytes)? {
                return Ok(response);
            }
        }
    }
    anyhow::bail!("the server closed the connection before registering the worker")
}

async fn send(socket: &mut Socket, message: worker_message::Message) -> anyhow::Result<()> {
    socket
        .send(Message::Binary(wire::encode(message).into()))
        .await?;
    Ok(())
}

/// A registered connection.
struct Connection {
    agent: Arc<Agent>,
    socket: Socket,
    /// `UpdateWorkerStatus.seq`: grows per registration so that a stale report loses.
    seq: u64,
    /// When the server last said anything (pongs included).
    heard: Instant,
}

impl Connection {
    async fn run(
        &mut self,
        updates: &mut tokio::sync::mpsc::Receiver<worker_message::Message>,
    ) -> anyhow::Result<()> {
        let agent = self.agent.clone();
        let interval = agent.status_interval;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut told_draining = false;
        self.report().await?;
        loop {
            if agent.worker.is_draining() {
                if !told_draining {
                    tracing::info!(
                        live_jobs = agent.slots.live(),
                        "draining: LiveKit gets no more availability"
                    );
                    self.report().await?;
                    told_draining = true;
                }
                if agent.slots.live() == 0 && updates.is_empty() {
                    self.report().await?;
                    let _ = self.socket.close(None).await;
                    return Ok(());
                }
            }
            tokio::select! {
                message = self.socket.next() => match message {
                    Some(Ok(Message::Binary(bytes))) => {
                        self.heard = Instant::now();
                        self.handle(&bytes).await?;
                    }
                    Some(Ok(Message::Close(frame))) => {
                        anyhow::bail!("the server closed the connection: {frame:?}")
                    }
                    Some(Ok(_)) => self.heard = Instant::now(),
                    Some(Err(error)) => return Err(error.into()),
                    None => anyhow::bail!("the connection ended"),
                },
                Some(update) = updates.recv() => send(&mut self.socket, update).await?,
                _ = ticker.tick() => {
                    // Pongs come back within an interval; three missed mean a dead link.
                    if self.heard.elapsed() > interval * 3 + Duration::from_secs(2) {
                        anyhow::bail!("nothing from the server for {:?}", self.heard.elapsed());
                    }
                    self.expire_offers();
                    self.report().await?;
                    let now_ms = chrono::Utc::now().timestamp_millis();
                    send(&mut self.socket, wire::ping(now_ms)).await?;
                }
                _ = agent.changed.notified() => self.report().await?,
                _ = agent.worker.shutdown.cancelled(), if !told_draining => {}
            }
        }
    }

    /// Sends the current load.
    async fn report(&mut self) -> anyhow::Result<()> {
        self.seq += 1;
        let report = self.agent.slots.report(self.agent.worker.is_draining());
        send(&mut self.socket, wire::worker_status(report, self.seq)).await
    }

    async fn handle(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        match wire::decode(bytes)? {
            Some(server_message::Message::Availability(request)) => {
                let Some(job) = request.job else {
                    return Ok(());
                };
                self.offer(&job).await
            }
            Some(server_message::Message::Assignment(assignment)) => {
                if let Some(job) = assignment.job {
                    let room = job::RoomAccess {
                        url: assignment.url.filter(|url| !url.is_empty()),
                        token: assignment.token,
                    };
                    self.assign(job, room).await?;
                }
                Ok(())
            }
            Some(server_message::Message::Termination(termination)) => {
                tracing::info!(job_id = %termination.job_id, "LiveKit terminates the job");
                if let Some(cancel) = lock(&self.agent.jobs).get(&termination.job_id) {
                    cancel.cancel();
                }
                Ok(())
            }
            Some(server_message::Message::GoAway(_)) => {
                anyhow::bail!("the server asks the worker to register elsewhere")
            }
            Some(server_message::Message::Pong(_) | server_message::Message::Register(_))
            | None => Ok(()),
        }
    }

    /// Answers an offer from the real load, holding a slot for a "yes".
    async fn offer(&mut self, job: &proto::Job) -> anyhow::Result<()> {
        let slot = if self.agent.worker.is_draining() {
            None
        } else {
            self.agent.slots.try_take()
        };
        let available = slot.is_some();
        match slot {
            Some(slot) => {
                lock(&self.agent.offered).insert(job.id.clone(), (slot, Instant::now()));
            }
            None => {
                self.agent.declined.fetch_add(1, Ordering::AcqRel);
            }
        }
        tracing::info!(job_id = %job.id, room = ?job.room.as_ref().map(|r| &r.name), available,
            live_jobs = self.agent.slots.live(), "LiveKit offers a job");
        send(&mut self.socket, wire::availability(&job.id, available)).await?;
        self.report().await
    }

    /// Starts an assigned job in the slot its offer took.
    async fn assign(&mut self, job: proto::Job, room: job::RoomAccess) -> anyhow::Result<()> {
        let offered = lock(&self.agent.offered)
            .remove(&job.id)
            .map(|(slot, _)| slot);
        let Some(slot) = offered.or_else(|| self.agent.slots.try_take()) else {
            tracing::warn!(job_id = %job.id, "assigned a job with no slot free; refusing it");
            let message = wire::job_status(&job.id, proto::JobStatus::JsFailed, "worker full");
            return send(&mut self.socket, message).await;
        };
        let cancel = CancellationToken::new();
        lock(&self.agent.jobs).insert(job.id.clone(), cancel.clone());
        let agent = self.agent.clone();
        self.agent
            .worker
            .calls
            .spawn(job::run(agent, job, room, slot, cancel));
        Ok(())
    }

    /// Gives back the slots of offers that were never assigned.
    fn expire_offers(&self) {
        lock(&self.agent.offered).retain(|job_id, (_, at)| {
            let keep = at.elapsed() < OFFER_TTL;
            if !keep {
                tracing::info!(%job_id, "an offered job was never assigned");
            }
            keep
        });
    }
}
