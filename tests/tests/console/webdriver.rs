//! A small W3C WebDriver client over reqwest, for Debian's chromedriver driving headless
//! Chromium: just the commands the console tests use (navigate, find, click, type, read,
//! run a script, screenshots, alerts, window size). The protocol is JSON over HTTP, so a
//! few dozen lines spare the workspace a browser-automation dependency tree.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// The key W3C WebDriver puts element references under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it.
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    base: String,
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

fn binary(var: &str, default: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var(var)
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(default));
    anyhow::ensure!(
        path.exists(),
        "{} not found: `./dev test` installs Debian's chromium and chromium-driver \
         (or set {var})",
        path.display()
    );
    Ok(path)
}

impl Browser {
    /// Starts chromedriver on a free port and opens headless Chromium at 1280x900.
    pub async fn start() -> anyhow::Result<Self> {
        let driver_bin = binary("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")?;
        let chromium = binary("CHROMIUM_BIN", "/usr/bin/chromium")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting chromedriver")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                         "--no-first-run", "--disable-extensions"],
            },
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await?
            .json()
            .await?;
        let session = answer["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("no session from chromedriver: {answer}"))?
            .to_string();
        Ok(Self {
            driver,
            http,
            session,
            base,
        })
    }

    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = self.http.request(method.clone(), &url);
        let request = if method == reqwest::Method::GET {
            request
        } else {
            request.json(&body)
        };
        let answer: Value = request.send().await?.json().await?;
        if let Some(error) = answer["value"]["error"].as_str() {
            bail!("{method} {path}: {error}: {}", answer["value"]["message"]);
        }
        Ok(answer["value"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.command(reqwest::Method::POST, path, body).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.command(reqwest::Method::GET, path, Value::Null).await
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.post("/url", json!({"url": url})).await.map(drop)
    }

    pub async fn set_size(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await
            .map(drop)
    }

    /// Every element matching `css` now.
    pub async fn all(&self, css: &str) -> anyhow::Result<Vec<Element>> {
        let found = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await?;
        Ok(found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_string())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The first element matching `css`, waiting up to `limit` for it.
    pub async fn wait(&self, css: &str, limit: Duration) -> anyhow::Result<Element> {
        let started = Instant::now();
        loop {
            if let Some(first) = self.all(css).await?.into_iter().next() {
                return Ok(first);
            }
            if started.elapsed() > limit {
                bail!("no {css} after {limit:?} on {}", self.url().await?);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The first element matching `css` (waits up to 10 s).
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        self.wait(css, Duration::from_secs(10)).await
    }

    /// Waits until the page's text under `css` contains `text`; returns that text.
    pub async fn wait_text(
        &self,
        css: &str,
        text: &str,
        limit: Duration,
    ) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let mut seen = String::new();
            for element in self.all(css).await? {
                // An element may go away between finding and reading it.
                if let Ok(t) = self.text(&element).await {
                    seen.push_str(&t);
                    seen.push('\n');
                }
            }
            if seen.contains(text) {
                return Ok(seen);
            }
            if started.elapsed() > limit {
                bail!("{css} never showed {text:?} in {limit:?}; it shows {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    pub async fn click(&self, element: &Element) -> anyhow::Result<()> {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .await
            .map(drop)
    }

    /// Clears a field and types `text` into it (a file input takes a path).
    pub async fn fill(&self, element: &Element, text: &str) -> anyhow::Result<()> {
        let is_file = self.property(element, "type").await? == "file";
        if !is_file {
            self.post(&format!("/element/{}/clear", element.0), json!({}))
                .await?;
        }
        self.post(
            &format!("/element/{}/value", element.0),
            json!({"text": text}),
        )
        .await
        .map(drop)
    }

    pub async fn text(&self, element: &Element) -> anyhow::Result<String> {
        Ok(self
            .get(&format!("/element/{}/text", element.0))
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    pub async fn property(&self, element: &Element, name: &str) -> anyhow::Result<String> {
        let value = self
            .get(&format!("/element/{}/property/{name}", element.0))
            .await?;
        Ok(match value {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        })
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its result.
    pub async fn script(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    pub async fn url(&self) -> anyhow::Result<String> {
        Ok(self
            .get("/url")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    pub async fn accept_alert(&self) -> anyhow::Result<()> {
        self.post("/alert/accept", json!({})).await.map(drop)
    }

    /// Saves a PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let data = self.get("/screenshot").await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().context("screenshot is not base64")?)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Ends the session and the driver.
    pub async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.driver.kill().await;
    }
}

impl Element {
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT: self.0 })
    }
}
