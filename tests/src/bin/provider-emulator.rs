//! The provider emulators as a process, for runs that start the product separately.
//!
//! `provider-emulator [--listen 127.0.0.1:PORT] [--config FILE.json]` prints
//! `provider emulator listening on http://ADDR` as the first line of stdout and serves
//! until interrupted. FILE is a [`ProviderConfig`] in JSON (every field optional). Inspect
//! and inject faults with `GET /_emulator/report` and `POST /_emulator/faults`.

use anyhow::{bail, Context};
use outbound_tests::providers::{ProviderConfig, ProviderEmulator};
use std::io::Write;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut config = ProviderConfig::default();
    let mut listen = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => listen = Some(value()?.parse().context("--listen ADDR:PORT")?),
            "--config" => {
                let path = value()?;
                let text =
                    std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
                config = serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
            }
            "--help" | "-h" => {
                println!("provider-emulator [--listen ADDR:PORT] [--config FILE.json]");
                return Ok(());
            }
            other => bail!("unknown option {other} (try --help)"),
        }
    }
    // The command line wins over the file.
    if let Some(addr) = listen {
        config.listen = addr;
    }
    let emulator = ProviderEmulator::start(config)
        .await
        .context("starting the provider emulator")?;
    println!("provider emulator listening on {}", emulator.base_url());
    std::io::stdout().flush().context("writing stdout")?;
    // A harness usually stops it with SIGTERM; close sockets cleanly on either.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("waiting for ctrl-c")?,
        _ = term.recv() => {}
    }
    emulator.shutdown().await;
    Ok(())
}
