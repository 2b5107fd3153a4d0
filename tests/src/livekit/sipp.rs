//! sipp callees standing in for the carrier behind an outbound trunk: the scripted
//! scenarios in `deploy/livekit/sipp/` (the same ones `deploy/livekit/rig.sh callee` runs),
//! one sipp process per callee, taking calls until dropped.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

use super::sip::{free_udp_and_tcp_port, free_udp_range};

/// What the callee does with an INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Rings for `ring_ms`, answers, waits for the caller's BYE.
    Answer { ring_ms: u32 },
    /// 486 Busy Here.
    Busy,
    /// 603 Decline.
    Decline,
    /// 180 Ringing until the caller cancels.
    NoAnswer,
    /// Answers after `ring_ms`, hangs up (BYE) after `talk_ms`.
    HangUp { ring_ms: u32, talk_ms: u32 },
}

impl Scenario {
    fn file(self) -> &'static str {
        match self {
            Scenario::Answer { .. } => "callee-answer.xml",
            Scenario::Busy => "callee-busy.xml",
            Scenario::Decline => "callee-decline.xml",
            Scenario::NoAnswer => "callee-no-answer.xml",
            Scenario::HangUp { .. } => "callee-hangup.xml",
        }
    }

    fn args(self) -> Vec<String> {
        match self {
            Scenario::Answer { ring_ms } => vec!["-d".into(), ring_ms.to_string()],
            Scenario::HangUp { ring_ms, talk_ms } => vec![
                "-d".into(),
                ring_ms.to_string(),
                "-set".into(),
                "talk_ms".into(),
                talk_ms.to_string(),
            ],
            _ => Vec::new(),
        }
    }
}

/// A running sipp callee.
pub struct Callee {
    child: Child,
    /// Its SIP port on 127.0.0.1: an outbound trunk's address is `127.0.0.1:<port>`.
    pub port: u16,
    pub scenario: Scenario,
    /// Its message trace; removed on drop.
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Callee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callee")
            .field("port", &self.port)
            .field("scenario", &self.scenario)
            .finish()
    }
}

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/livekit/sipp")
}

impl Callee {
    /// Starts sipp with `scenario` and waits until it listens.
    pub async fn start(scenario: Scenario) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_udp_and_tcp_port()?;
        let media = free_udp_range(4)?;
        let sipp = std::env::var("SIPP_BIN").unwrap_or_else(|_| "sipp".into());
        let file = scenarios_dir().join(scenario.file());
        // -rtp_echo returns the caller's RTP (real media both ways); -aa answers stray
        // INFO/NOTIFY/OPTIONS/UPDATE; -trace_msg keeps every SIP message for a failing test.
        let child = Command::new(&sipp)
            .arg("-sf")
            .arg(&file)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", &media.to_string()])
            .args([
                "-rtp_echo",
                "-aa",
                "-nostdin",
                "-trace_msg",
                "-message_file",
            ])
            .arg(dir.path().join("messages.log"))
            .args(scenario.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {sipp} (install sip-tester, or run ./dev test)"))?;
        let mut callee = Self {
            child,
            port,
            scenario,
            dir,
        };
        callee.wait_listening().await?;
        Ok(callee)
    }

    /// sipp binds its UDP port once the scenario is loaded: until then the port is free.
    async fn wait_listening(&mut self) -> anyhow::Result<()> {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("sipp ({:?}) exited with {status}", self.scenario);
            }
            if UdpSocket::bind(("127.0.0.1", self.port)).is_err() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        anyhow::bail!("sipp ({:?}) never listened on {}", self.scenario, self.port)
    }

    /// Every SIP message the callee sent and received so far.
    pub fn messages(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("messages.log")).unwrap_or_default()
    }

    /// How many INVITEs reached the callee: one per dial.
    pub fn invites(&self) -> usize {
        self.messages()
            .lines()
            .filter(|line| line.starts_with("INVITE sip:"))
            .count()
    }
}
