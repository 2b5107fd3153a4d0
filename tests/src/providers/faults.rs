//! Injected failures, one slot per service, changeable while the emulator runs.
//!
//! A fault applies to the next `times` requests (sessions, for the WebSockets) of its
//! service, or to all of them while `times` is absent. JSON form, as `POST
//! /_emulator/faults` takes it: `{"service": "llm", "kind": "status", "code": 503,
//! "times": 2}`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A service that can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Deepgram live transcription (`/v1/listen`).
    Stt,
    /// Chat completions.
    Llm,
    /// ElevenLabs text to speech.
    TtsElevenlabs,
    /// OpenAI `/v1/audio/speech`.
    TtsOpenai,
    /// Deepgram Aura (`/v1/speak`, REST and WebSocket).
    TtsDeepgram,
    /// OpenAI `/v1/audio/transcriptions`.
    Whisper,
}

impl Service {
    /// The name used in JSON and reports.
    pub fn name(self) -> &'static str {
        match self {
            Service::Stt => "stt",
            Service::Llm => "llm",
            Service::TtsElevenlabs => "tts_elevenlabs",
            Service::TtsOpenai => "tts_openai",
            Service::TtsDeepgram => "tts_deepgram",
            Service::Whisper => "whisper",
        }
    }
}

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Start normally, then cut the connection without a proper end. `after` counts
    /// milliseconds of audio received (STT) or sent (TTS), SSE chunks sent (streamed
    /// chat), or body bytes sent (non-streamed chat, transcriptions).
    Drop {
        /// How far to get before cutting.
        after: u64,
    },
    /// Accept the request (or the WebSocket) and then send nothing, keeping the
    /// connection open until the client gives up.
    Stall,
    /// Answer with this HTTP status and the service's error JSON (for the WebSockets:
    /// refuse the upgrade with it).
    Status {
        /// 429, 500, 503...
        code: u16,
    },
    /// Wait this long before the first byte of the response (the upgrade, for WebSockets).
    SlowFirstByte {
        /// Milliseconds.
        ms: u64,
    },
}

impl FaultKind {
    /// A short label for reports, e.g. `status 503`.
    pub fn label(self) -> String {
        match self {
            FaultKind::Drop { after } => format!("drop after {after}"),
            FaultKind::Stall => "stall".into(),
            FaultKind::Status { code } => format!("status {code}"),
            FaultKind::SlowFirstByte { ms } => format!("slow_first_byte {ms} ms"),
        }
    }
}

/// A fault for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which service fails.
    pub service: Service,
    /// How.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// For the next this-many requests; absent means every request until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

impl Fault {
    /// Every request to `service` fails with `kind` until cleared.
    pub fn new(service: Service, kind: FaultKind) -> Self {
        Fault {
            service,
            kind,
            times: None,
        }
    }

    /// See [`FaultKind::Drop`].
    pub fn drop_after(service: Service, after: u64) -> Self {
        Self::new(service, FaultKind::Drop { after })
    }

    /// See [`FaultKind::Stall`].
    pub fn stall(service: Service) -> Self {
        Self::new(service, FaultKind::Stall)
    }

    /// See [`FaultKind::Status`].
    pub fn status(service: Service, code: u16) -> Self {
        Self::new(service, FaultKind::Status { code })
    }

    /// See [`FaultKind::SlowFirstByte`].
    pub fn slow_first_byte(service: Service, ms: u64) -> Self {
        Self::new(service, FaultKind::SlowFirstByte { ms })
    }

    /// Only for the next `n` requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

/// The active faults.
#[derive(Debug, Default)]
pub(crate) struct FaultTable {
    active: BTreeMap<Service, (FaultKind, Option<u32>)>,
}

impl FaultTable {
    /// Replaces the fault of `fault.service`; `times: Some(0)` clears it.
    pub(crate) fn set(&mut self, fault: Fault) {
        if fault.times == Some(0) {
            self.active.remove(&fault.service);
        } else {
            self.active.insert(fault.service, (fault.kind, fault.times));
        }
    }

    pub(crate) fn clear(&mut self) {
        self.active.clear();
    }

    /// The fault for one new request to `service`, counting it against `times`.
    pub(crate) fn take(&mut self, service: Service) -> Option<FaultKind> {
        let (kind, left) = self.active.get_mut(&service)?;
        let kind = *kind;
        if let Some(n) = left {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.active.remove(&service);
            }
        }
        Some(kind)
    }

    /// What is active now, with the requests left.
    pub(crate) fn list(&self) -> Vec<Fault> {
        self.active
            .iter()
            .map(|(&service, &(kind, times))| Fault {
                service,
                kind,
                times,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_fault_applies_that_many_times_then_goes_away() {
        let mut table = FaultTable::default();
        table.set(Fault::status(Service::Llm, 503).times(2));
        assert_eq!(
            table.take(Service::Llm),
            Some(FaultKind::Status { code: 503 })
        );
        assert_eq!(table.take(Service::Stt), None);
        assert!(table.take(Service::Llm).is_some());
        assert_eq!(table.take(Service::Llm), None);
    }

    #[test]
    fn faults_read_from_the_documented_json() {
        let fault: Fault =
            serde_json::from_str(r#"{"service":"tts_openai","kind":"drop","after":500}"#)
                .expect("parses");
        assert_eq!(fault, Fault::drop_after(Service::TtsOpenai, 500));
        let fault: Fault =
            serde_json::from_str(r#"{"service":"stt","kind":"stall","times":1}"#).expect("parses");
        assert_eq!(fault, Fault::stall(Service::Stt).times(1));
    }
}
