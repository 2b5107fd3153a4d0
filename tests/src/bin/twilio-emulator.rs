//! The Twilio emulator as a process, for tests that run the product as a separate process.
//!
//! `twilio-emulator --listen 127.0.0.1:PORT --account-sid AC.. --auth-token .. [--cps N]
//! [--callees FILE]` prints its base URL on the first line of stdout and serves until
//! killed. FILE is JSON: `{"+15550001111": {script}, ..., "default": {script}}`.
//! Inspect it with `GET {base}/_emulator/calls`.

use anyhow::{bail, Context};
use outbound_tests::twilio::{CalleeScript, Emulator, EmulatorConfig};
use std::collections::BTreeMap;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut config = EmulatorConfig::default();
    let mut callees = BTreeMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => config.listen = value()?.parse().context("--listen ADDR:PORT")?,
            "--account-sid" => config.account_sid = value()?,
            "--auth-token" => config.auth_token = value()?,
            "--cps" => config.calls_per_second = value()?.parse().context("--cps NUMBER")?,
            "--callees" => {
                let path = value()?;
                let text =
                    std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
                callees = serde_json::from_str::<BTreeMap<String, CalleeScript>>(&text)
                    .with_context(|| format!("parsing {path}"))?;
            }
            "--help" | "-h" => {
                println!(
                    "twilio-emulator --listen ADDR:PORT --account-sid AC.. --auth-token TOKEN \
                     [--cps N] [--callees FILE.json]"
                );
                return Ok(());
            }
            other => bail!("unknown option {other} (try --help)"),
        }
    }
    if let Some(default) = callees.remove("default") {
        config.default_callee = default;
    }
    let emulator = Emulator::start(config)
        .await
        .context("starting the emulator")?;
    for (to, script) in callees {
        emulator.register_callee(&to, script);
    }
    println!("{}", emulator.base_url());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for ctrl-c")?;
    Ok(())
}
