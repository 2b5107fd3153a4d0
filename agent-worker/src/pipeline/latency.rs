//! Per-turn latency: measured on the worker's clock, kept per call (reported to the
//! control plane, which shows it on the call) and fed to the Prometheus histograms.

use crate::metrics::WorkerMetrics;
use serde::Serialize;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One agent turn's timings, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TurnLatency {
    pub turn: u32,
    /// End of callee speech to the first agent audio sent.
    pub end_of_speech_to_audio_ms: Option<f64>,
    /// End of callee speech to the final transcript.
    pub stt_final_ms: Option<f64>,
    pub llm_first_token_ms: Option<f64>,
    pub tts_first_byte_ms: Option<f64>,
    /// The worker's own share: turn end to LLM request, first clause to TTS request, and
    /// TTS first byte to first audio sent (everything but waiting on providers).
    pub own_overhead_ms: Option<f64>,
    /// Where the turn's time went, stage by stage (for reading one late turn).
    pub stages: Option<TurnStages>,
}

/// A turn's stage marks in ms after the last speech frame arrived, anchored to the wall
/// clock so a benchmark can line them up with the callee's clock and the providers'.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TurnStages {
    /// Wall clock (ms since the Unix epoch) when the last speech frame arrived.
    pub speech_end_unix_ms: f64,
    /// The VAD declared the speech over (its hangover after the last speech frame).
    pub vad_end_ms: Option<f64>,
    /// The final transcript that completed the turn arrived from the STT provider.
    pub stt_final_ms: Option<f64>,
    /// The event that completed the turn was received.
    pub turn_end_ms: Option<f64>,
    pub llm_request_ms: Option<f64>,
    pub llm_first_token_ms: Option<f64>,
    pub first_clause_ms: Option<f64>,
    pub tts_request_ms: Option<f64>,
    pub tts_first_byte_ms: Option<f64>,
    /// The first frame of the reply went to the transport (the pacer let it go).
    pub first_audio_ms: Option<f64>,
}

/// One barge-in: callee speech onset to the clear.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BargeInLatency {
    pub at_ms: u64,
    pub stop_ms: f64,
}

/// Timing marks of the turn in progress.
#[derive(Debug, Default)]
pub struct TurnClock {
    pub speech_end: Option<Instant>,
    /// When the VAD declared the speech over.
    pub vad_end: Option<Instant>,
    /// When the event that ended the callee's turn was received.
    pub turn_end: Option<Instant>,
    /// When the model's first clause was complete.
    pub first_clause: Option<Instant>,
    pub stt_final: Option<Instant>,
    pub llm_request: Option<Instant>,
    pub llm_first_token: Option<Instant>,
    pub tts_request: Option<Instant>,
    pub tts_first_byte: Option<Instant>,
    pub first_audio: Option<Instant>,
}

fn ms(from: Option<Instant>, to: Option<Instant>) -> Option<f64> {
    let (from, to) = (from?, to?);
    Some(to.saturating_duration_since(from).as_secs_f64() * 1000.0)
}

/// All of a call's latency records.
#[derive(Debug)]
pub struct CallLatency {
    metrics: WorkerMetrics,
    turns: Vec<TurnLatency>,
    barge_ins: Vec<BargeInLatency>,
    /// When the callee first heard the agent, in ms since the media started (the answer):
    /// the control plane's abandonment rate counts calls where this is over 2 s or never.
    first_audio_ms: Option<i64>,
    /// The same moment on the monotonic and the wall clock (stages are reported on both).
    anchor: (Instant, SystemTime),
}

impl CallLatency {
    pub fn new(metrics: WorkerMetrics) -> Self {
        CallLatency {
            metrics,
            anchor: (Instant::now(), SystemTime::now()),
            turns: Vec::new(),
            barge_ins: Vec::new(),
            first_audio_ms: None,
        }
    }

    /// Notes an agent audio frame sent at `at_ms`; only the first one counts.
    pub fn first_audio(&mut self, at_ms: i64) {
        self.first_audio_ms.get_or_insert(at_ms);
    }

    /// Closes a turn's clock into a record.
    pub fn finish_turn(&mut self, clock: &TurnClock) {
        let record = TurnLatency {
            turn: self.turns.len() as u32 + 1,
            end_of_speech_to_audio_ms: ms(clock.speech_end, clock.first_audio),
            stt_final_ms: ms(clock.speech_end, clock.stt_final),
            llm_first_token_ms: ms(clock.llm_request, clock.llm_first_token),
            tts_first_byte_ms: ms(clock.tts_request, clock.tts_first_byte),
            own_overhead_ms: own_overhead(clock),
            stages: self.stages(clock),
        };
        for (value, histogram) in [
            (record.end_of_speech_to_audio_ms, &self.metrics.turn_latency),
            (record.stt_final_ms, &self.metrics.stt_final),
            (record.llm_first_token_ms, &self.metrics.llm_first_token),
            (record.tts_first_byte_ms, &self.metrics.tts_first_byte),
            (record.own_overhead_ms, &self.metrics.own_overhead),
        ] {
            if let Some(value) = value {
                histogram.observe(value / 1000.0);
            }
        }
        self.turns.push(record);
    }

    /// The turn's stage marks relative to its last speech frame.
    fn stages(&self, clock: &TurnClock) -> Option<TurnStages> {
        let end = clock.speech_end?;
        let (mono, wall) = self.anchor;
        let wall_end = match end.checked_duration_since(mono) {
            Some(after) => wall + after,
            None => wall - mono.duration_since(end),
        };
        let unix_ms = wall_end.duration_since(UNIX_EPOCH).ok()?.as_secs_f64() * 1000.0;
        let at = |mark: Option<Instant>| ms(Some(end), mark);
        Some(TurnStages {
            speech_end_unix_ms: unix_ms,
            vad_end_ms: at(clock.vad_end),
            stt_final_ms: at(clock.stt_final),
            turn_end_ms: at(clock.turn_end),
            llm_request_ms: at(clock.llm_request),
            llm_first_token_ms: at(clock.llm_first_token),
            first_clause_ms: at(clock.first_clause),
            tts_request_ms: at(clock.tts_request),
            tts_first_byte_ms: at(clock.tts_first_byte),
            first_audio_ms: at(clock.first_audio),
        })
    }

    /// Records a barge-in's stop time.
    pub fn barge_in(&mut self, at_ms: u64, stop: Duration) {
        self.metrics.barge_in.observe(stop.as_secs_f64());
        self.barge_ins.push(BargeInLatency {
            at_ms,
            stop_ms: stop.as_secs_f64() * 1000.0,
        });
    }

    /// The call's latency summary for the control plane.
    pub fn summary(&self) -> serde_json::Value {
        let pick = |f: fn(&TurnLatency) -> Option<f64>| {
            let mut values: Vec<f64> = self.turns.iter().filter_map(f).collect();
            values.sort_by(f64::total_cmp);
            stats(&values)
        };
        serde_json::json!({
            "firstAudioMs": self.first_audio_ms,
            "turns": self.turns,
            "bargeIns": self.barge_ins,
            "endOfSpeechToAudioMs": pick(|t| t.end_of_speech_to_audio_ms),
            "sttFinalMs": pick(|t| t.stt_final_ms),
            "llmFirstTokenMs": pick(|t| t.llm_first_token_ms),
            "ttsFirstByteMs": pick(|t| t.tts_first_byte_ms),
            "ownOverheadMs": pick(|t| t.own_overhead_ms),
        })
    }
}

/// The three stretches of a turn where only the worker is at work.
fn own_overhead(clock: &TurnClock) -> Option<f64> {
    Some(
        ms(clock.turn_end, clock.llm_request)?
            + ms(clock.first_clause, clock.tts_request)?
            + ms(clock.tts_first_byte, clock.first_audio)?,
    )
}

/// Median, worst and count of sorted values.
fn stats(sorted: &[f64]) -> serde_json::Value {
    if sorted.is_empty() {
        return serde_json::Value::Null;
    }
    let round = |v: f64| (v * 10.0).round() / 10.0;
    serde_json::json!({
        "p50": round(sorted[sorted.len() / 2]),
        "max": round(sorted[sorted.len() - 1]),
        "count": sorted.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_is_measured_from_the_end_of_speech() {
        let t0 = Instant::now();
        let at = |ms| Some(t0 + Duration::from_millis(ms));
        let clock = TurnClock {
            speech_end: at(0),
            vad_end: at(200),
            turn_end: at(312),
            first_clause: at(440),
            stt_final: at(310),
            llm_request: at(320),
            llm_first_token: at(420),
            tts_request: at(450),
            tts_first_byte: at(500),
            first_audio: at(505),
        };
        let mut latency = CallLatency::new(WorkerMetrics::default());
        latency.finish_turn(&clock);
        latency.finish_turn(&TurnClock::default());
        let summary = latency.summary();
        assert_eq!(summary["turns"][0]["endOfSpeechToAudioMs"], 505.0);
        assert_eq!(summary["turns"][0]["llmFirstTokenMs"], 100.0);
        // 8 ms to ask the model, 10 ms to ask for speech, 5 ms to send the first audio.
        assert_eq!(summary["turns"][0]["ownOverheadMs"], 23.0);
        assert_eq!(summary["turns"][1]["sttFinalMs"], serde_json::Value::Null);
        // The stage marks count from the last speech frame, anchored to the wall clock.
        let stages = &summary["turns"][0]["stages"];
        assert_eq!(stages["vadEndMs"], 200.0);
        assert_eq!(stages["turnEndMs"], 312.0);
        assert_eq!(stages["ttsFirstByteMs"], 500.0);
        assert_eq!(stages["firstAudioMs"], 505.0);
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            * 1e3;
        assert!((stages["speechEndUnixMs"].as_f64().unwrap() - unix_now).abs() < 60_000.0);
        assert_eq!(summary["turns"][1]["stages"], serde_json::Value::Null);
        assert_eq!(summary["endOfSpeechToAudioMs"]["count"], 1);
        assert!(latency
            .metrics
            .encode()
            .contains("agent_turn_latency_seconds_count 1"));
    }

    #[test]
    fn the_first_agent_audio_is_reported_once_and_null_when_the_agent_never_spoke() {
        let mut latency = CallLatency::new(WorkerMetrics::default());
        assert_eq!(latency.summary()["firstAudioMs"], serde_json::Value::Null);
        assert!(latency
            .summary()
            .as_object()
            .unwrap()
            .contains_key("firstAudioMs"));
        latency.first_audio(640);
        latency.first_audio(900);
        assert_eq!(latency.summary()["firstAudioMs"], 640);
    }
}
