//! What every handler shares: the config, the fault table, the report, the TTS cache and
//! the shutdown signal.
//!
//! Each `std::sync::Mutex` is held only for a few field updates, never across an
//! `.await`.

use super::config::ProviderConfig;
use super::faults::{FaultKind, FaultTable, Service};
use super::report::{RefusedRequest, Report};
use super::tts::cache::SpeechCache;
use chrono::Utc;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;

/// Everything the emulator's tasks share.
pub(crate) struct Shared {
    pub config: ProviderConfig,
    faults: Mutex<FaultTable>,
    report: Mutex<Report>,
    pub cache: SpeechCache,
    /// Flips to true on shutdown: stalled requests and open sockets end on it.
    closing: watch::Receiver<bool>,
    /// Post-call analysis answers still to be made invalid (`openai_chat::analysis`).
    invalid_analyses: std::sync::atomic::AtomicU32,
}

/// Locks, ignoring poisoning: a panic in one handler must not take the emulator down.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(config: ProviderConfig, closing: watch::Receiver<bool>) -> Self {
        let mut faults = FaultTable::default();
        for fault in &config.faults {
            faults.set(*fault);
        }
        Shared {
            cache: SpeechCache::new(config.tts.cache_bytes),
            config,
            faults: Mutex::new(faults),
            report: Mutex::new(Report::default()),
            closing,
            invalid_analyses: std::sync::atomic::AtomicU32::new(0),
        }
    }

    pub(crate) fn set_invalid_analyses(&self, n: u32) {
        self.invalid_analyses
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the next analysis answer is to be invalid (using one up if so).
    pub(crate) fn take_invalid_analysis(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.invalid_analyses
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultTable> {
        lock(&self.faults)
    }

    pub(crate) fn report(&self) -> MutexGuard<'_, Report> {
        lock(&self.report)
    }

    /// The fault for one new request to `service`, if any.
    pub(crate) fn take_fault(&self, service: Service) -> Option<FaultKind> {
        self.faults().take(service)
    }

    /// Records a request refused before any work.
    pub(crate) fn refused(&self, service: Service, status: u16, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::debug!(service = service.name(), status, "refused: {reason}");
        self.report().refused.push(RefusedRequest {
            service: service.name().into(),
            at: Utc::now(),
            status,
            reason,
        });
    }

    /// Resolves once the emulator is shutting down.
    pub(crate) async fn closed(&self) {
        let mut closing = self.closing.clone();
        // An error means the sender is gone, which is a shutdown too.
        let _ = closing.wait_for(|c| *c).await;
    }

    /// Sleeps `ms`, or less if the emulator shuts down meanwhile; false if it did.
    pub(crate) async fn sleep_ms(&self, ms: u64) -> bool {
        if ms == 0 {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(ms)) => true,
            _ = self.closed() => false,
        }
    }
}
