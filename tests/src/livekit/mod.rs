//! The real LiveKit SIP path for tests: the Go `livekit-server` and `livekit-sip` binaries
//! that `./dev test` installs, with their own Redis, and sipp callees standing in for the
//! carrier, all on free loopback ports and stopped when their handles drop. A
//! [`SipRouter`] puts several callees behind one trunk address (a campaign's); `recording`
//! takes a call's stereo recording apart.
//!
//! The binaries are `LIVEKIT_SERVER_BIN` / `LIVEKIT_SIP_BIN`, else the ones `./dev test`
//! caches under `~/.cache/outbound-calling/go-bin/`; Redis is `REDIS_SERVER_BIN`, else
//! `redis-server` on the `PATH`; sipp is `SIPP_BIN`, else `sipp`. A test that needs them
//! fails with a message naming what is missing: it is never skipped.

pub mod phone;
pub mod recording;
mod router;
mod sip;
mod sipp;

pub use router::SipRouter;
pub use sip::{LiveKitSipService, LIVEKIT_SIP_VERSION};
pub use sipp::{Callee, Scenario};

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::process::free_port;
use sip::free_udp_and_tcp_port;

/// The version `./dev test` installs.
pub const LIVEKIT_SERVER_VERSION: &str = "v1.13.5";

/// A running livekit-server with its Redis.
pub struct LiveKitServer {
    server: Child,
    redis: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`: livekit-sip must share it.
    pub redis_addr: String,
    pub api_key: String,
    pub api_secret: String,
    /// Config and log; removed on drop.
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for LiveKitServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitServer")
            .field("url", &self.url)
            .finish()
    }
}

/// `$VAR`, else the binary `./dev test` caches at `go-bin/<cached>`.
pub(crate) fn cached_binary(var: &str, cached: &str) -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var(var) {
        return Ok(path.into());
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let path = PathBuf::from(home)
        .join(".cache/outbound-calling/go-bin")
        .join(cached);
    anyhow::ensure!(
        path.exists(),
        "{cached} not found: set {var} or run ./dev test, which installs it at {}",
        path.display()
    );
    Ok(path)
}

/// Starts one of the cached Go services (`var`/`cached` as for [`cached_binary`]) with
/// `config` written to `<dir>/<name>.yaml` and its output in `<dir>/<name>.log`; killed
/// when the child drops.
pub(crate) fn start_go_service(
    var: &str,
    cached: &str,
    dir: &std::path::Path,
    name: &str,
    config: &str,
) -> anyhow::Result<Child> {
    let config_path = dir.join(format!("{name}.yaml"));
    std::fs::write(&config_path, config)?;
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    let binary = cached_binary(var, cached)?;
    Command::new(&binary)
        .arg("--config")
        .arg(&config_path)
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))
}

/// Starts a service up to three times, each on ports chosen afresh. Ports are noted free
/// and handed to a Go process that binds them later; a parallel test's process (an RTP
/// range, an ephemeral port) can take one in between, and the service then exits.
pub(crate) async fn retry_on_new_ports<T, F, Fut>(what: &str, mut start: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match start().await {
            Ok(service) => return Ok(service),
            Err(err) if attempt < 3 => {
                eprintln!("{what} did not start (attempt {attempt}), again on new ports: {err:#}");
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// What a test may change in the server's configuration.
#[derive(Debug, Default, Clone)]
pub struct ServerOptions {
    /// Where livekit-server posts its webhooks (signed with the server's API key).
    pub webhook_url: Option<String>,
}

impl LiveKitServer {
    /// Starts Redis and livekit-server and waits until the server answers.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(ServerOptions::default()).await
    }

    /// [`LiveKitServer::start`] with options (a webhook URL).
    pub async fn start_with(options: ServerOptions) -> anyhow::Result<Self> {
        retry_on_new_ports("livekit-server", || Self::start_once(&options)).await
    }

    async fn start_once(options: &ServerOptions) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let redis_port = free_port()?;
        let redis_bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let redis = Command::new(&redis_bin)
            .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!("starting {redis_bin} (install redis-server, or run ./dev test)")
            })?;

        let http_port = free_port()?;
        let api_key = "testkey".to_string();
        // v1.13 warns about secrets shorter than 32 characters.
        let api_secret = "test-secret-of-at-least-32-characters".to_string();
        // Loopback candidates and no TCP fallback: livekit-sip joins rooms over loopback.
        let mut config = format!(
            "port: {http_port}\nbind_addresses: [127.0.0.1]\n\
             rtc:\n  tcp_port: {}\n  udp_port: {}\n  node_ip: 127.0.0.1\n  use_external_ip: false\n\
             \x20 enable_loopback_candidate: true\n  allow_tcp_fallback: false\n\
             redis:\n  address: 127.0.0.1:{redis_port}\n\
             keys:\n  {api_key}: {api_secret}\nlogging:\n  level: warn\n",
            free_port()?,
            free_udp_and_tcp_port()?,
        );
        if let Some(url) = &options.webhook_url {
            config.push_str(&format!(
                "webhook:\n  api_key: {api_key}\n  urls: [\"{url}\"]\n"
            ));
        }
        let server = start_go_service(
            "LIVEKIT_SERVER_BIN",
            &format!("livekit-server-{LIVEKIT_SERVER_VERSION}/server"),
            dir.path(),
            "livekit",
            &config,
        )?;
        let mut lk = Self {
            server,
            redis,
            url: format!("http://127.0.0.1:{http_port}"),
            redis_addr: format!("127.0.0.1:{redis_port}"),
            api_key,
            api_secret,
            dir,
        };
        lk.wait_ready().await?;
        Ok(lk)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Some(status) = self.server.try_wait()? {
                let log = std::fs::read_to_string(self.dir.path().join("livekit.log"))
                    .unwrap_or_default();
                anyhow::bail!("livekit-server exited with {status}:\n{log}");
            }
            if let Some(status) = self.redis.try_wait()? {
                anyhow::bail!("redis-server exited with {status}");
            }
            if let Ok(response) = client.get(&self.url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("livekit-server at {} never answered", self.url)
    }

    /// A Twirp call to the SIP service with an admin token, for tests to look at what the
    /// product registered.
    pub async fn sip(
        &self,
        method: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let (status, answer) = self.twirp("SIP", method, body).await?;
        anyhow::ensure!(status == 200, "{method}: HTTP {status}: {answer}");
        Ok(answer)
    }

    /// A Twirp call with room-admin and SIP grants: the status and the JSON answer (a
    /// Twirp error body on failure), so tests can look at LiveKit's own view of a call.
    pub async fn twirp(
        &self,
        service: &str,
        method: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let now = chrono::Utc::now().timestamp();
        // Room-scoped RPCs (ListDispatch, ListParticipants) want the room in the grant.
        let room = body["room"].as_str().unwrap_or_default();
        let claims = serde_json::json!({
            "iss": self.api_key, "sub": "test", "nbf": now - 10, "exp": now + 600,
            "video": {"roomCreate": true, "roomList": true, "roomAdmin": true, "room": room},
            "sip": {"admin": true, "call": true},
        });
        let token = jwt_hs256(&claims, self.api_secret.as_bytes());
        let response = reqwest::Client::new()
            .post(format!("{}/twirp/livekit.{service}/{method}", self.url))
            .bearer_auth(token)
            .timeout(Duration::from_secs(90))
            .json(&body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Ok((status, value))
    }

    /// The names of the rooms LiveKit has now.
    pub async fn room_names(&self) -> anyhow::Result<Vec<String>> {
        let (status, list) = self
            .twirp("RoomService", "ListRooms", serde_json::json!({}))
            .await?;
        anyhow::ensure!(status == 200, "ListRooms: HTTP {status}: {list}");
        Ok(list["rooms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|room| room["name"].as_str().map(str::to_string))
            .collect())
    }

    /// The outbound trunks LiveKit holds.
    pub async fn outbound_trunks(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let list = self
            .sip("ListSIPOutboundTrunk", serde_json::json!({}))
            .await?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }
}

/// An HS256 JWT, written here rather than borrowed from the product, so the test's token
/// is an independent check of what LiveKit accepts.
pub fn jwt_hs256(claims: &serde_json::Value, secret: &[u8]) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64(claims.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", b64(&mac.finalize().into_bytes()))
}
