//! A real control-plane process for benchmarks: started on a free port against a given
//! database, awaited until healthy, measured through `/proc`, and killed when done.

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

/// A running control plane.
#[derive(Debug)]
pub struct ControlPlane {
    child: Child,
    pid: u32,
    pub base_url: String,
}

/// Memory of a process in KiB, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size since start (`VmHWM`).
    pub peak_kib: u64,
}

impl ControlPlane {
    /// Starts `binary` with `DATABASE_URL` and a free port; its output goes to `log`.
    pub async fn start(binary: &Path, database_url: &str, log: &Path) -> anyhow::Result<Self> {
        Self::start_on(binary, database_url, log, free_port()?, &[]).await
    }

    /// Starts `binary` on `port` with extra `CP__...` settings in its environment.
    pub async fn start_on(
        binary: &Path,
        database_url: &str,
        log: &Path,
        port: u16,
        settings: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = Command::new(binary)
            .envs(settings.iter().map(|(k, v)| (*k, v.as_str())))
            .env("DATABASE_URL", database_url)
            .env("CP__SERVER__PORT", port.to_string())
            .env("CP__SERVER__HOST", "127.0.0.1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("the control plane exited at once")?;
        Ok(Self {
            child,
            pid,
            base_url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Polls `/health` until it answers 200.
    pub async fn wait_healthy(
        &mut self,
        client: &reqwest::Client,
        limit: Duration,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the control plane exited during start-up ({status})");
            }
            let health = client.get(format!("{}/health", self.base_url)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if started.elapsed() > limit {
                bail!("the control plane was not healthy after {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("reading /proc/<pid>/status (Linux only)")?;
        Ok(Memory {
            rss_kib: status_field(&status, "VmRSS:")?,
            peak_kib: status_field(&status, "VmHWM:")?,
        })
    }

    /// Starts a new peak: afterwards `VmHWM` only covers what happens from now on (Linux
    /// 4.0+, `clear_refs` value 5), so set-up work does not hide the phase measured.
    pub fn reset_peak(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5")
            .context("resetting the peak RSS through /proc/<pid>/clear_refs")
    }

    /// Ends the process with SIGKILL: no shutdown handler runs, as in a crash.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("killing the control plane")
    }
}

/// A `kB` value of `/proc/<pid>/status`.
fn status_field(status: &str, name: &str) -> anyhow::Result<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {name} in /proc status"))
}

/// A port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_kib() {
        let status = "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_field(status, "VmHWM:").unwrap(), 20480);
        assert_eq!(status_field(status, "VmRSS:").unwrap(), 10240);
        assert!(status_field(status, "VmSwap:").is_err());
    }
}
