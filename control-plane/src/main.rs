//! The control-plane binary: load settings, connect, migrate, serve until a signal.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("info,control_plane=info,sqlx=warn,tower_http=info");
    let settings = control_plane::config::Settings::load().context("loading settings")?;
    let app = control_plane::app::Application::build(settings)
        .await
        .context("starting the control plane")?;
    tracing::info!(address = %app.address(), "control plane listening");
    app.run_until_stopped(control_plane::app::shutdown_signal())
        .await
}
