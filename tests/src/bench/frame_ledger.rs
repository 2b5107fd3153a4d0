//! Where the callees' frames went: every 20 ms frame a callee's phone made while its
//! stream was attached is accounted to one place on the way to the STT emulator.
//!
//! - `queue_dropped`: the Twilio emulator's stream queue was full (the stream task fell
//!   behind the phone clock), so the frame was never sent;
//! - `sent`: `media` messages the stream sent to the worker;
//! - `worker_dropped`: frames the worker's session could not hand to its STT input (it
//!   logs them when a call ends: "audio frames the STT could not take");
//! - `stt_received`: audio the STT emulator received, in 20 ms frames;
//! - `in_flight`: sent, not dropped by the worker, never received: frames on their way
//!   when the call ended (the agent's hang-up travels while the phone keeps talking, and
//!   the worker's last partial STT batch is not sent after the call ends), or lost in the
//!   worker's STT client.

use crate::providers::report::SttSessionReport;
use crate::twilio::report::StreamReport;
use serde::Serialize;

/// The frame accounts of one run (all calls together).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct FrameLedger {
    pub queue_dropped: i64,
    pub sent: i64,
    pub worker_dropped: i64,
    pub stt_received: i64,
    pub in_flight: i64,
    /// STT sessions still open when counted: their received audio may be short by up to
    /// the emulator's report interval.
    pub stt_sessions_open: usize,
    /// STT sessions opened in all (more than one per call means the worker reconnected).
    pub stt_sessions: usize,
    /// Callee utterances the STT emulator received but could not decode (audio damaged
    /// or cut before it arrived, rather than lost as whole frames).
    pub stt_undecodable: usize,
}

impl FrameLedger {
    /// Adds up the callees' media streams, the worker's log and the STT emulator's
    /// sessions.
    pub fn of<'a>(
        streams: impl Iterator<Item = &'a StreamReport> + Clone,
        worker_log: &str,
        stt: &[SttSessionReport],
    ) -> FrameLedger {
        let streams = || streams.clone();
        let sent = streams().map(|s| s.media_sent as i64).sum::<i64>();
        let seconds: f64 = stt.iter().map(|s| s.audio_seconds).sum();
        let stt_received = (seconds * 50.0).round() as i64;
        let worker_dropped = worker_dropped_frames(worker_log);
        FrameLedger {
            queue_dropped: streams().map(|s| s.media_dropped as i64).sum(),
            sent,
            worker_dropped,
            stt_received,
            in_flight: sent - worker_dropped - stt_received,
            stt_sessions_open: stt.iter().filter(|s| s.end.is_none()).count(),
            stt_sessions: stt.len(),
            stt_undecodable: stt.iter().map(|s| s.undecodable.len()).sum(),
        }
    }

    /// Frames the callees made that the STT never received, wherever they were lost.
    pub fn lost(&self) -> i64 {
        self.queue_dropped + self.sent - self.stt_received
    }
}

/// The frames the worker's sessions reported they could not hand to the STT, from its log
/// in JSON lines (`LOG_FORMAT=json`; the warning is logged at the end of each call).
pub fn worker_dropped_frames(log: &str) -> i64 {
    log.lines()
        .filter(|l| l.contains("audio frames the STT could not take"))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|record| record["fields"]["frames"].as_i64())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workers_dropped_frames_are_read_from_its_json_log() {
        let warn = |frames: i64| {
            serde_json::json!({"level": "WARN", "fields": {
                "message": "audio frames the STT could not take", "frames": frames}})
            .to_string()
        };
        let log = format!(
            "{}\nnot json\n{}\n{}\n",
            warn(3),
            warn(4),
            serde_json::json!({"level": "INFO", "fields": {"message": "call event"}})
        );
        assert_eq!(worker_dropped_frames(&log), 7);
        assert_eq!(worker_dropped_frames(""), 0);
    }

    #[test]
    fn every_frame_is_accounted_to_one_place() {
        let stream = StreamReport {
            media_sent: 1_000,
            media_dropped: 5,
            ..StreamReport::default()
        };
        let stt = SttSessionReport {
            audio_seconds: 19.0, // 950 frames
            end: Some("close_stream".into()),
            ..SttSessionReport::default()
        };
        let log = serde_json::json!({"fields": {
            "message": "audio frames the STT could not take", "frames": 40}})
        .to_string();
        let ledger = FrameLedger::of([stream].iter(), &log, &[stt]);
        assert_eq!(ledger.queue_dropped, 5);
        assert_eq!(ledger.sent, 1_000);
        assert_eq!(ledger.worker_dropped, 40);
        assert_eq!(ledger.stt_received, 950);
        assert_eq!(ledger.in_flight, 10);
        assert_eq!(ledger.stt_sessions_open, 0);
        assert_eq!((ledger.stt_sessions, ledger.stt_undecodable), (1, 0));
        assert_eq!(ledger.lost(), 55);
    }
}
