//! livekit-sip, the SIP bridge `CreateSIPParticipant` dials through, beside a test's
//! livekit-server: same Redis, same key pair, its SIP and RTP ports free on loopback.

use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use tokio::process::Child;

use super::{start_go_service, LiveKitServer};
use crate::process::free_port;

/// The version `./dev test` installs.
pub const LIVEKIT_SIP_VERSION: &str = "v1.11.0";

/// RTP ports per livekit-sip: one per call, and closed calls keep theirs for a while.
const RTP_PORTS: u16 = 40;

/// A running livekit-sip.
pub struct LiveKitSipService {
    child: Child,
    /// Its SIP port on 127.0.0.1 (UDP and TCP).
    pub sip_port: u16,
    /// Config and log; removed on drop.
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for LiveKitSipService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitSipService")
            .field("sip_port", &self.sip_port)
            .finish()
    }
}

impl LiveKitSipService {
    /// Starts livekit-sip for `server` and waits until its health port says OK.
    pub async fn start(server: &LiveKitServer) -> anyhow::Result<Self> {
        super::retry_on_new_ports("livekit-sip", || Self::start_once(server)).await
    }

    async fn start_once(server: &LiveKitServer) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let sip_port = free_udp_and_tcp_port()?;
        let health_port = free_port()?;
        let rtp = free_udp_range(RTP_PORTS)?;
        let ws_url = server.url.replacen("http://", "ws://", 1);
        // Field names are livekit-sip v1.11.0's (deploy/livekit/sip.yaml.tmpl explains each).
        let config = format!(
            "api_key: {key}\napi_secret: {secret}\nws_url: {ws_url}\n\
             redis:\n  address: {redis}\n\
             sip_port: {sip_port}\nlisten_ip: 127.0.0.1\nnat_1_to_1_ip: 127.0.0.1\n\
             use_external_ip: false\nrtp_port: {rtp}-{rtp_end}\nhealth_port: {health_port}\n\
             max_cpu_utilization: 1.0\nlogging:\n  level: info\n",
            key = server.api_key,
            secret = server.api_secret,
            redis = server.redis_addr,
            rtp_end = rtp + RTP_PORTS - 1,
        );
        let child = start_go_service(
            "LIVEKIT_SIP_BIN",
            &format!("livekit-sip-{LIVEKIT_SIP_VERSION}/livekit-sip"),
            dir.path(),
            "sip",
            &config,
        )?;
        let mut sip = Self {
            child,
            sip_port,
            dir,
        };
        sip.wait_ready(health_port).await?;
        Ok(sip)
    }

    async fn wait_ready(&mut self, health_port: u16) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{health_port}/");
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("livekit-sip exited with {status}:\n{}", self.log());
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("livekit-sip never became healthy:\n{}", self.log())
    }

    /// Its log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sip.log")).unwrap_or_default()
    }
}

/// A port free for both UDP and TCP on loopback (SIP listens on both).
pub(crate) fn free_udp_and_tcp_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no port free for both UDP and TCP")
}

/// The first of `count` consecutive UDP ports that are free now.
pub(crate) fn free_udp_range(count: u16) -> anyhow::Result<u16> {
    for _ in 0..200 {
        let base = 20_000 + rand::random::<u16>() % 40_000;
        let all_free = (base..base + count).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return Ok(base);
        }
    }
    anyhow::bail!("no {count} consecutive free UDP ports")
}
