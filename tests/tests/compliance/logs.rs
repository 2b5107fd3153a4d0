//! Captures everything the product logs (control plane, worker, shared; debug level) into
//! memory, so a test can assert that no phone number or transcript reached the logs.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<()> = OnceLock::new();

#[derive(Clone, Copy)]
struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut captured) = CAPTURED.lock() {
            captured.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        Capture
    }
}

/// Starts capturing (once per test binary): the product's crates at debug level; the
/// emulators and the test's own HTTP client are not the product and stay quiet.
pub fn capture() {
    INSTALLED.get_or_init(|| {
        let filter = EnvFilter::new(
            "warn,control_plane=debug,agent_worker=debug,shared=debug,tower_http=debug",
        );
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(Capture)
            .with_ansi(false)
            .try_init();
    });
}

/// Everything captured so far.
pub fn captured() -> String {
    CAPTURED
        .lock()
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .unwrap_or_default()
}
