//! A livekit-server that goes away and comes back on the same port (with the same Redis):
//! the worker registers again and takes the next dispatch.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use outbound_tests::livekit::{LiveKitServer, LIVEKIT_SERVER_VERSION};
use outbound_tests::process::free_port;
use sqlx::PgPool;
use tokio::process::{Child, Command};

use crate::support::*;
use crate::{event, WITHIN};

/// livekit-server on fixed ports, started and stopped by the test.
struct Restartable {
    config: PathBuf,
    url: String,
    server: Option<Child>,
    _redis: Child,
    _dir: tempfile::TempDir,
}

fn binary() -> PathBuf {
    std::env::var("LIVEKIT_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let home = std::env::var("HOME").unwrap_or_default();
            PathBuf::from(home).join(format!(
                ".cache/outbound-calling/go-bin/livekit-server-{LIVEKIT_SERVER_VERSION}/server"
            ))
        })
}

impl Restartable {
    async fn start(api_key: &str, api_secret: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let redis_port = free_port().unwrap();
        let redis = Command::new(
            std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into()),
        )
        .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
        let port = free_port().unwrap();
        let config = dir.path().join("livekit.yaml");
        std::fs::write(
            &config,
            format!(
                "port: {port}\nbind_addresses: [127.0.0.1]\n\
                 rtc:\n  tcp_port: {}\n  udp_port: {}\n  node_ip: 127.0.0.1\n  use_external_ip: false\n\
                 redis:\n  address: 127.0.0.1:{redis_port}\n\
                 keys:\n  {api_key}: {api_secret}\nlogging:\n  level: warn\n",
                free_port().unwrap(),
                free_port().unwrap(),
            ),
        )
        .unwrap();
        let mut lk = Self {
            config,
            url: format!("http://127.0.0.1:{port}"),
            server: None,
            _redis: redis,
            _dir: dir,
        };
        lk.up().await;
        lk
    }

    async fn up(&mut self) {
        let server = Command::new(binary())
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.server = Some(server);
        let http = reqwest::Client::new();
        eventually(WITHIN, "livekit-server answers", || async {
            http.get(&self.url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
    }

    async fn down(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill().await.unwrap();
        }
    }
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn after_livekit_server_restarts_the_worker_registers_again_and_takes_jobs(db: PgPool) {
    // Only for its key pair and the Dispatcher; the restartable server is another one.
    let keys = LiveKitServer::start().await.unwrap();
    let mut livekit = Restartable::start(&keys.api_key, &keys.api_secret).await;
    let base = control_plane(&db).await;
    let org = organization(&base).await;
    let w = worker(&base, &keys, &livekit.url, 4, |_| {});
    w.registered(1).await;

    livekit.down().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    livekit.up().await;
    w.registered(2).await;

    let (call, metadata) = call(&db, &base, org).await;
    Dispatcher::at(&livekit.url, &keys)
        .dispatch("after-restart", &metadata)
        .await;
    event(&db, call, "connected").await;
}
