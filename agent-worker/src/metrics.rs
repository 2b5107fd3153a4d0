//! The worker's Prometheus metrics, served at `/metrics`: per-turn latency histograms,
//! barge-in stop time, live calls and how calls ended.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Labels for calls that ended.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndLabels {
    pub reason: String,
}

/// Handles to every metric, cheap to clone.
#[derive(Debug, Clone)]
pub struct WorkerMetrics {
    registry: Arc<Registry>,
    /// End of callee speech to the first agent audio sent.
    pub turn_latency: Histogram,
    /// End of callee speech to the final transcript.
    pub stt_final: Histogram,
    /// LLM request to first token.
    pub llm_first_token: Histogram,
    /// TTS request to first audio byte.
    pub tts_first_byte: Histogram,
    /// Callee speech onset (as the VAD saw it) to the `clear` sent.
    pub barge_in: Histogram,
    /// The worker's own time in a turn (see `pipeline::latency`), finely bucketed.
    pub own_overhead: Histogram,
    pub active_calls: Gauge,
    pub calls_ended: Family<EndLabels, Counter>,
}

fn seconds() -> Histogram {
    // 5 ms to ~10 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.005, 1.6, 17,
    ))
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("agent");
        let turn_latency = seconds();
        let stt_final = seconds();
        let llm_first_token = seconds();
        let tts_first_byte = seconds();
        let barge_in = seconds();
        // 50 us to ~1 s: the worker's own time is well under a millisecond.
        let own_overhead = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.000_05, 1.4, 30),
        );
        let active_calls = Gauge::default();
        let calls_ended = Family::<EndLabels, Counter>::default();
        registry.register(
            "turn_latency_seconds",
            "End of callee speech to first agent audio sent",
            turn_latency.clone(),
        );
        registry.register(
            "stt_final_seconds",
            "End of callee speech to final transcript",
            stt_final.clone(),
        );
        registry.register(
            "llm_first_token_seconds",
            "LLM request to first token",
            llm_first_token.clone(),
        );
        registry.register(
            "tts_first_byte_seconds",
            "TTS request to first audio byte",
            tts_first_byte.clone(),
        );
        registry.register(
            "barge_in_seconds",
            "Callee speech onset to the agent's audio being cleared",
            barge_in.clone(),
        );
        registry.register(
            "own_overhead_seconds",
            "The worker's own time per turn, providers' latencies excluded",
            own_overhead.clone(),
        );
        registry.register("active_calls", "Calls in progress", active_calls.clone());
        registry.register("calls_ended", "Calls ended, by reason", calls_ended.clone());
        WorkerMetrics {
            registry: Arc::new(registry),
            turn_latency,
            stt_final,
            llm_first_token,
            tts_first_byte,
            barge_in,
            own_overhead,
            active_calls,
            calls_ended,
        }
    }
}

impl WorkerMetrics {
    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::warn!("could not encode metrics");
        }
        out
    }
}
