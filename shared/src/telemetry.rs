//! The one tracing setup every binary calls, so logs look the same everywhere.

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Installs the global subscriber. `RUST_LOG` picks the levels (default `info`);
/// `LOG_FORMAT=json` switches to one JSON object per line for log shippers.
/// Calling it twice is harmless (tests do), the second call keeps the first subscriber.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(fmt::layer().json().with_current_span(true))
            .try_init()
    } else {
        registry.with(fmt::layer().compact()).try_init()
    };
    if result.is_err() {
        tracing::debug!("telemetry already initialised");
    }
}
