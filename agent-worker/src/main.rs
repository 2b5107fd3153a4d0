//! The agent-worker binary: `agent-worker [--standalone ASSISTANT.json]`.
//!
//! Settings come from `agent-worker.toml` and `AW__SECTION__KEY` variables (see
//! `config.rs`). On SIGTERM or Ctrl-C the worker stops taking calls, tells the control
//! plane it has no capacity, and exits once its live calls have finished. With
//! `AW__LIVEKIT__URL` set it also takes LiveKit dispatches (`transport/livekit`), and on
//! SIGTERM tells LiveKit it is full and draining too.

use agent_worker::app::{router, Worker};
use agent_worker::config::WorkerConfig;
use agent_worker::transport::livekit::LiveKitAgent;
use anyhow::Context;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let mut config = WorkerConfig::load()?;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--standalone" => {
                config.standalone.enabled = true;
                config.standalone.assistant_file = Some(
                    args.next()
                        .context("--standalone needs an assistant file")?
                        .into(),
                );
            }
            "--listen" => {
                config.server.listen = args.next().context("--listen needs an address")?
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    config.check_secrets()?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if config.server.threads > 0 {
        runtime.worker_threads(config.server.threads);
    }
    runtime.enable_all().build()?.block_on(serve(config))
}

async fn serve(config: WorkerConfig) -> anyhow::Result<()> {
    shared::telemetry::init("info,agent_worker=info");
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    let drain = Duration::from_secs(config.server.drain_timeout_sec);
    let standalone = config.standalone.enabled;
    let worker = Worker::new(config)?;
    tracing::info!(address = %listener.local_addr()?, worker_id = %worker.worker_id,
        standalone, "agent worker listening");
    let heartbeat = (!standalone).then(|| worker.spawn_heartbeat());
    // LiveKit jobs come from the control plane's dispatches: not in standalone mode.
    let livekit = if standalone {
        None
    } else {
        LiveKitAgent::start(&worker).context("LiveKit settings")?
    };
    if let Some(livekit) = &livekit {
        tracing::info!(?livekit, "LiveKit agent worker on");
    }
    let app = router(worker.clone());
    let drained = {
        let worker = worker.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("draining: no new calls; waiting for live ones");
            worker.start_draining();
            if tokio::time::timeout(drain, worker.calls.wait())
                .await
                .is_err()
            {
                tracing::warn!("drain timeout: ending with calls still live");
            }
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(drained)
        .await
        .context("serving HTTP")?;
    if let Some(heartbeat) = heartbeat {
        // The draining beat goes out before the process ends.
        let _ = tokio::time::timeout(Duration::from_secs(10), heartbeat).await;
    }
    if let Some(livekit) = livekit {
        // Its last job statuses and the draining report go out before the process ends.
        let _ = tokio::time::timeout(Duration::from_secs(10), livekit.stopped()).await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
