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
            // Quiet by default; `settings` may override it.
            .env("RUST_LOG", "warn")
            .envs(settings.iter().map(|(k, v)| (*k, v.as_str())))
            .env("DATABASE_URL", database_url)
            .env("CP__SERVER__PORT", port.to_string())
            .env("CP__SERVER__HOST", "127.0.0.1")
            // Test mode: the binary may run on the built-in secrets the settings leave.
            .env("CP__AUTH__ALLOW_DEV_SECRETS", "true")
            // Rigs and benchmarks make many requests fast from one address.
            .env("CP__LIMITS__ENABLED", "false")
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

    /// The process id, for reading its CPU time and memory from `/proc`.
    pub fn pid(&self) -> u32 {
        self.pid
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

/// A running agent-worker process, configured through `AW__...` variables.
#[derive(Debug)]
pub struct AgentWorker {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
}

/// `taskset`'s arguments that run `binary args...` on `cpu` alone.
fn taskset_args(binary: &Path, cpu: usize, args: &[String]) -> Vec<String> {
    let mut pinned = vec![
        "-c".to_string(),
        cpu.to_string(),
        binary.display().to_string(),
    ];
    pinned.extend(args.iter().cloned());
    pinned
}

impl AgentWorker {
    /// Starts `binary` listening on a free port with `settings` (`AW__...` pairs) and
    /// `args`; output goes to `log`. Waits until `/health` answers.
    pub async fn start(
        binary: &Path,
        settings: &[(String, String)],
        args: &[String],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = Command::new(binary)
            .args(args)
            // Quiet by default; `settings` may override it (a bench reads the call events).
            .env("RUST_LOG", "warn")
            .envs(settings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AW__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            // Test mode: the binary may run on the built-in secrets the settings leave.
            .env("AW__CONTROL_PLANE__ALLOW_DEV_SECRETS", "true")
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("the worker exited at once")?;
        let mut worker = AgentWorker {
            child,
            pid,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = worker.child.try_wait()? {
                bail!("the agent worker exited during start-up ({status})");
            }
            let health = client
                .get(format!("{}/health", worker.base_url))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(worker);
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(20),
                "worker not healthy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// [`Self::start`] pinned to one CPU with `taskset`.
    pub async fn start_pinned(
        binary: &Path,
        cpu: usize,
        settings: &[(String, String)],
        args: &[String],
        log: &Path,
    ) -> anyhow::Result<Self> {
        Self::start(
            Path::new("taskset"),
            settings,
            &taskset_args(binary, cpu, args),
            log,
        )
        .await
    }

    /// [`Self::start_pinned`] at niceness `nice` (negative: ahead of everything else on
    /// its CPU; needs root, else `nice` warns and the worker runs at the usual priority).
    /// Every thread inherits it, the runtime's included.
    pub async fn start_pinned_nice(
        binary: &Path,
        cpu: usize,
        nice: i32,
        settings: &[(String, String)],
        args: &[String],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let mut command = vec!["-n".to_string(), nice.to_string(), "taskset".to_string()];
        command.extend(taskset_args(binary, cpu, args));
        Self::start(Path::new("nice"), settings, &command, log).await
    }

    /// `ws://127.0.0.1:PORT/twilio/media`.
    pub fn media_url(&self) -> String {
        format!("{}/twilio/media", self.base_url.replacen("http", "ws", 1))
    }

    /// Memory now and at peak.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        memory_of(self.pid)
    }

    /// CPU seconds (user + system) the process has used.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds_of(self.pid)
    }

    /// Sends SIGTERM (the worker drains).
    pub fn terminate(&self) -> anyhow::Result<()> {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        Ok(())
    }

    /// SIGKILL: the worker dies mid-call, as in a crash.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("killing the worker")
    }

    /// Waits for the process to exit by itself.
    pub async fn wait(mut self) -> anyhow::Result<std::process::ExitStatus> {
        Ok(self.child.wait().await?)
    }
}

/// A binary of this workspace next to the running executable (tests run from
/// `target/<profile>/deps`, tools from `target/<profile>`); built by `cargo test
/// --workspace` or `cargo build -p <crate>`.
pub fn workspace_binary(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("executable has no directory")?;
    if dir.ends_with("deps") {
        dir = dir.parent().context("no target directory")?;
    }
    let binary = dir.join(name);
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: build it with `cargo build --bin {name}`",
        binary.display()
    );
    Ok(binary)
}

/// The agent-worker binary: `AGENT_WORKER_BIN` when set (a target directory shared by
/// several checkouts may hold another checkout's build), else [`workspace_binary`].
pub fn agent_worker_binary() -> anyhow::Result<std::path::PathBuf> {
    match std::env::var_os("AGENT_WORKER_BIN") {
        Some(path) => Ok(path.into()),
        None => workspace_binary("agent-worker"),
    }
}

/// The control-plane binary: `CONTROL_PLANE_BIN` when set (a target directory shared by
/// several checkouts may hold another checkout's build), else [`workspace_binary`].
pub fn control_plane_binary() -> anyhow::Result<std::path::PathBuf> {
    match std::env::var_os("CONTROL_PLANE_BIN") {
        Some(path) => Ok(path.into()),
        None => workspace_binary("control-plane"),
    }
}

/// The URL of the database a `#[sqlx::test]` was given: `DATABASE_URL`'s server with the
/// test's own database, for a process the test starts.
pub fn test_database_url(db: &sqlx::PgPool) -> anyhow::Result<String> {
    let base = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let name = db
        .connect_options()
        .get_database()
        .unwrap_or("postgres")
        .to_string();
    let (server, _) = base
        .rsplit_once('/')
        .context("DATABASE_URL names no database")?;
    Ok(format!("{server}/{name}"))
}

/// Memory of any process.
pub fn memory_of(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/<pid>/status (Linux only)")?;
    Ok(Memory {
        rss_kib: status_field(&status, "VmRSS:")?,
        peak_kib: status_field(&status, "VmHWM:")?,
    })
}

/// CPU seconds (user + system) of a process, from `/proc/<pid>/stat`.
pub fn cpu_seconds_of(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .context("reading /proc/<pid>/stat (Linux only)")?;
    // Fields after the command name (which may hold spaces) start at `) `.
    let rest = stat.rsplit_once(") ").context("odd /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("short /proc stat")?.parse::<f64>()?)
    };
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    Ok((ticks(11)? + ticks(12)?) / clock_ticks())
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
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
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        let before = cpu_seconds_of(pid).unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_seconds_of(pid).unwrap() >= before);
        assert!(memory_of(pid).unwrap().rss_kib > 0);
    }

    #[test]
    fn status_fields_are_read_in_kib() {
        let status = "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_field(status, "VmHWM:").unwrap(), 20480);
        assert_eq!(status_field(status, "VmRSS:").unwrap(), 10240);
        assert!(status_field(status, "VmSwap:").is_err());
    }
}
