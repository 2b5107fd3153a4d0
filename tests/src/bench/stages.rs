//! Where a turn's time went, stage by stage, from three clocks lined up on the wall clock:
//! the callee's phone (end of speech, first reply audio at the ear), the worker's stage
//! marks (its `metrics` call event, one record per turn) and the STT emulator (when it
//! sent the final transcript). Everything runs on one machine, so the wall clocks agree.
//!
//! Stages of one turn, in order along its critical path:
//! - `in`: the callee's last speech frame, phone to worker (Twilio WebSocket hop);
//! - `stt_send`: worker's last speech frame to the emulator's final transcript: the hop
//!   to the STT task and socket, the batching, the emulator's 300 ms endpointing;
//! - `stt_receive`: the emulator's final to the worker's session having it;
//! - `turn_end`: waiting for the end-of-turn signal after the final;
//! - `llm`: turn end to the model's first clause (request hop + model);
//! - `tts`: first clause to the first synthesised audio (request hop + TTS);
//! - `pacer`: first audio byte to the first frame handed to the transport;
//! - `out`: that frame to the callee's ear (WebSocket hop + playout tick).

use crate::bench::stats::Percentiles;
use crate::providers::report::SttSessionReport;
use crate::speech_code::utterance_samples;
use crate::twilio::CallReport;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The stage names, in critical-path order.
pub const STAGES: [&str; 8] = [
    "in",
    "stt_send",
    "stt_receive",
    "turn_end",
    "llm",
    "tts",
    "pacer",
    "out",
];

/// The worker's stage marks of one turn (`stages` of a turn in the `metrics` event).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStages {
    pub speech_end_unix_ms: f64,
    pub vad_end_ms: Option<f64>,
    pub stt_final_ms: Option<f64>,
    pub turn_end_ms: Option<f64>,
    pub llm_request_ms: Option<f64>,
    pub llm_first_token_ms: Option<f64>,
    pub first_clause_ms: Option<f64>,
    pub tts_request_ms: Option<f64>,
    pub tts_first_byte_ms: Option<f64>,
    pub first_audio_ms: Option<f64>,
}

/// One callee turn followed through every stage (ms; `None` where a clock had no mark).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TurnTrace {
    /// The call (index in the run) and what the callee said.
    pub call: usize,
    pub said: String,
    /// End of the callee's speech to the reply at the ear; `None` if none was heard.
    pub at_ear_ms: Option<f64>,
    /// Stage durations by name (see [`STAGES`]).
    pub stages: BTreeMap<&'static str, f64>,
}

/// Per-stage percentiles over all turns plus the slowest turns in full.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StageReport {
    /// Turns the worker's marks were found for / turns the callees took.
    pub traced: usize,
    pub turns: usize,
    pub percentiles: BTreeMap<&'static str, Percentiles>,
    /// The slowest turns at the ear (and turns never answered), worst first.
    pub slowest: Vec<TurnTrace>,
}

/// Reads every turn's stage marks from a worker log in JSON lines (`LOG_FORMAT=json`,
/// the call events logged at info), by call id.
pub fn worker_turns(log: &str) -> HashMap<String, Vec<WorkerStages>> {
    let mut turns: HashMap<String, Vec<WorkerStages>> = HashMap::new();
    for line in log.lines().filter(|l| l.contains("\\\"metrics\\\"")) {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let fields = &record["fields"];
        let (Some(call), Some(event)) = (fields["call"].as_str(), fields["event"].as_str()) else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<serde_json::Value>(event) else {
            continue;
        };
        if event["type"] != "metrics" {
            continue;
        }
        let stages = event["latency"]["turns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| serde_json::from_value(t["stages"].clone()).ok());
        turns.entry(call.to_string()).or_default().extend(stages);
    }
    turns
}

/// Epoch ms of a wall-clock time.
fn unix_ms(at: chrono::DateTime<chrono::Utc>) -> f64 {
    at.timestamp_micros() as f64 / 1000.0
}

/// Follows every streamed callee utterance of every call through the stages.
/// `call_ids[i]` is the worker's id of call `i`; `stt` the emulator's sessions (finals are
/// matched to utterances by their text, which carries a per-call token).
pub fn trace(
    reports: &[Option<CallReport>],
    call_ids: &[String],
    worker: &HashMap<String, Vec<WorkerStages>>,
    stt: &[SttSessionReport],
) -> StageReport {
    let said: Vec<Vec<&str>> = reports
        .iter()
        .map(|r| {
            r.iter()
                .flat_map(|r| &r.said)
                .map(|s| s.text.as_str())
                .collect()
        })
        .collect();
    let finals = finals_by_call(&said, stt);
    let mut traces = Vec::new();
    let mut turns = 0;
    for (call, (report, id)) in reports.iter().zip(call_ids).enumerate() {
        let Some(report) = report else { continue };
        let Some(answered) = report.answered_at.map(unix_ms) else {
            continue;
        };
        let marks = worker.get(id).map(Vec::as_slice).unwrap_or_default();
        for said in report.said.iter().filter(|s| s.streamed) {
            turns += 1;
            let end_ms = said.start_ms + utterance_samples(said.text.len(), 8000) as u64 / 8;
            let spoken_end = answered + end_ms as f64;
            // The reply is the utterance that echoes the turn's token (its last word);
            // a turn without a token (the goodbye) takes the next utterance heard.
            let token = said.text.split_whitespace().last().unwrap_or_default();
            let heard = report
                .heard
                .iter()
                .filter(|h| h.start_ms >= end_ms && h.start_ms < end_ms + 10_000)
                .find(|h| {
                    !token.starts_with("token-")
                        || h.text.as_deref().is_some_and(|t| t.contains(token))
                })
                .map(|h| answered + h.start_ms as f64);
            // The worker's turn is the one whose last speech frame arrived within
            // `MATCH_MS` after this end (a later one belongs to a later utterance).
            let mark = marks.iter().find(|m| {
                m.speech_end_unix_ms >= spoken_end - 100.0
                    && m.speech_end_unix_ms < spoken_end + MATCH_MS
            });
            let final_sent = finals[call].get(&said.text.trim().to_lowercase()).copied();
            let stages = mark
                .map(|m| stage_durations(m, spoken_end, final_sent, heard))
                .unwrap_or_default();
            traces.push(TurnTrace {
                call,
                said: said.text.clone(),
                at_ear_ms: heard.map(|h| h - spoken_end),
                stages,
            });
        }
    }
    let mut percentiles = BTreeMap::new();
    for stage in STAGES {
        let values: Vec<f64> = traces
            .iter()
            .filter_map(|t| t.stages.get(stage).copied())
            .collect();
        if let Some(p) = Percentiles::of(&values) {
            percentiles.insert(stage, p);
        }
    }
    let traced = traces.iter().filter(|t| !t.stages.is_empty()).count();
    // Unanswered turns first, then the slowest at the ear.
    traces.sort_by(|a, b| {
        let key = |t: &TurnTrace| t.at_ear_ms.unwrap_or(f64::INFINITY);
        key(b).total_cmp(&key(a))
    });
    traces.truncate(SLOWEST);
    StageReport {
        traced,
        turns,
        percentiles,
        slowest: traces,
    }
}

/// When each call's finals were sent, by text, from the STT sessions that belong to the
/// call: a session belongs to the call whose per-call token it transcribed. Texts repeat
/// across calls ("thanks goodbye"), so a final found by text alone could be another
/// call's, seconds away: that put other calls' goodbyes into `stt_receive` at p90.
fn finals_by_call(said: &[Vec<&str>], stt: &[SttSessionReport]) -> Vec<HashMap<String, f64>> {
    let tokens = |text: &str| -> Vec<String> {
        text.split_whitespace()
            .filter(|w| w.starts_with("token-"))
            .map(str::to_lowercase)
            .collect()
    };
    let mut session_of_token: HashMap<String, usize> = HashMap::new();
    for (index, session) in stt.iter().enumerate() {
        for transcript in &session.transcripts {
            for token in tokens(&transcript.text) {
                session_of_token.insert(token, index);
            }
        }
    }
    said.iter()
        .map(|texts| {
            let mut sessions: Vec<usize> = texts
                .iter()
                .flat_map(|text| tokens(text))
                .filter_map(|token| session_of_token.get(&token).copied())
                .collect();
            sessions.sort_unstable();
            sessions.dedup();
            let mut finals = HashMap::new();
            for transcript in sessions.iter().flat_map(|&i| &stt[i].transcripts) {
                if transcript.is_final && !transcript.text.is_empty() {
                    finals
                        .entry(transcript.text.trim().to_lowercase())
                        .or_insert_with(|| unix_ms(transcript.sent_at));
                }
            }
            finals
        })
        .collect()
}

/// The longest the last speech frame may take to reach the worker and still be matched
/// to the utterance (ms).
const MATCH_MS: f64 = 3_000.0;

/// How many of the slowest turns the report keeps in full.
const SLOWEST: usize = 5;

/// The stage durations of one turn: worker marks relative to its last speech frame,
/// placed on the wall clock between the callee's end of speech and the ear.
fn stage_durations(
    m: &WorkerStages,
    spoken_end: f64,
    final_sent: Option<f64>,
    heard: Option<f64>,
) -> BTreeMap<&'static str, f64> {
    let mut stages = BTreeMap::new();
    let mut put = |name: &'static str, from: Option<f64>, to: Option<f64>| {
        if let (Some(from), Some(to)) = (from, to) {
            stages.insert(name, to - from);
        }
    };
    let base = m.speech_end_unix_ms;
    let at = |mark: Option<f64>| mark.map(|ms| base + ms);
    // The phone sends a frame once it is whole: its last speech frame leaves 20 ms after
    // the speech's end at the latest, so `in` counts from the end.
    put("in", Some(spoken_end), Some(base));
    put("stt_send", Some(base), final_sent);
    put("stt_receive", final_sent, at(m.stt_final_ms));
    put("turn_end", at(m.stt_final_ms), at(m.turn_end_ms));
    put("llm", at(m.turn_end_ms), at(m.first_clause_ms));
    put("tts", at(m.first_clause_ms), at(m.tts_first_byte_ms));
    put("pacer", at(m.tts_first_byte_ms), at(m.first_audio_ms));
    put("out", at(m.first_audio_ms), heard);
    stages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_marks_come_from_the_metrics_event_in_json_logs() {
        let event = serde_json::json!({"type": "metrics", "latency": {"turns": [
            {"turn": 1, "stages": {"speechEndUnixMs": 1000.0, "sttFinalMs": 320.0,
             "turnEndMs": 321.0, "firstClauseMs": 330.0, "ttsFirstByteMs": 335.0,
             "firstAudioMs": 336.0}},
            {"turn": 2, "stages": null}
        ]}});
        let line = serde_json::json!({"level": "INFO", "fields": {
            "message": "call event", "call": "c-1", "at_ms": 5, "event": event.to_string()}});
        let log = format!("not json\n{line}\n");
        let turns = worker_turns(&log);
        assert_eq!(turns["c-1"].len(), 1);
        assert_eq!(turns["c-1"][0].stt_final_ms, Some(320.0));
    }

    fn session(texts: &[(&str, i64)]) -> SttSessionReport {
        let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).expect("valid");
        SttSessionReport {
            transcripts: texts
                .iter()
                .map(|&(text, ms)| crate::providers::report::SttTranscript {
                    text: text.into(),
                    start: 0.0,
                    end: 0.0,
                    speech_start: None,
                    speech_end: None,
                    is_final: true,
                    speech_final: true,
                    from_finalize: false,
                    sent_at: at(ms),
                })
                .collect(),
            ..SttSessionReport::default()
        }
    }

    #[test]
    fn a_final_is_taken_from_the_calls_own_session_when_texts_repeat() {
        let stt = [
            session(&[("my code is token-10", 1_000), ("thanks goodbye", 2_000)]),
            session(&[("my code is token-20", 5_000), ("thanks goodbye", 9_000)]),
        ];
        // Call 1's session came second: its goodbye is its own, not call 0's.
        let said = [
            vec!["my code is token-10", "thanks goodbye"],
            vec!["my code is token-20", "thanks goodbye"],
            vec!["thanks goodbye"],
        ];
        let finals = finals_by_call(&said, &stt);
        assert_eq!(finals[0]["thanks goodbye"], 2_000.0);
        assert_eq!(finals[1]["thanks goodbye"], 9_000.0);
        assert_eq!(finals[1]["my code is token-20"], 5_000.0);
        // A call none of whose tokens reached the STT has no finals to guess from.
        assert!(finals[2].is_empty());
    }

    #[test]
    fn stages_split_the_time_from_the_end_of_speech_to_the_ear() {
        let m = WorkerStages {
            speech_end_unix_ms: 10_010.0,
            stt_final_ms: Some(330.0),
            turn_end_ms: Some(331.0),
            first_clause_ms: Some(340.0),
            tts_first_byte_ms: Some(345.0),
            first_audio_ms: Some(346.0),
            ..WorkerStages::default()
        };
        let stages = stage_durations(&m, 10_000.0, Some(10_335.0), Some(10_380.0));
        assert_eq!(stages["in"], 10.0);
        assert_eq!(stages["stt_send"], 325.0);
        assert_eq!(stages["stt_receive"], 5.0);
        assert_eq!(stages["llm"], 9.0);
        assert_eq!(stages["pacer"], 1.0);
        assert_eq!(stages["out"], 24.0);
        // The stages add up to the whole turn at the ear.
        assert_eq!(stages.values().sum::<f64>(), 380.0);
    }
}
