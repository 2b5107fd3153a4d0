//! The `/v1/listen` query parameters the emulator honours; the rest are accepted and
//! ignored, as Deepgram ignores what does not apply.

use std::collections::BTreeMap;

/// How incoming binary frames are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Mulaw,
    Linear16,
}

/// A listen request's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListenParams {
    pub encoding: Encoding,
    pub sample_rate: u32,
    /// Interleaved channels; only the first is transcribed.
    pub channels: u16,
    pub interim_results: bool,
    /// `None` when `endpointing=false`; Deepgram's default is 10 ms.
    pub endpointing_ms: Option<u64>,
    pub utterance_end_ms: Option<u64>,
    pub vad_events: bool,
    pub model: String,
    /// Every parameter as sent, for the report.
    pub raw: BTreeMap<String, String>,
}

fn flag(raw: &BTreeMap<String, String>, name: &str) -> bool {
    raw.get(name).is_some_and(|v| v == "true")
}

fn number<T: std::str::FromStr>(
    raw: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<T>, String> {
    raw.get(name)
        .map(|v| v.parse().map_err(|_| format!("{name}={v} is not a number")))
        .transpose()
}

impl ListenParams {
    /// Reads the query string; the error is Deepgram's 400 message.
    pub(super) fn parse(query: Option<&str>) -> Result<Self, String> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
            .map_err(|e| format!("malformed query string: {e}"))?;
        let raw: BTreeMap<String, String> = pairs.into_iter().collect();
        let encoding = match raw.get("encoding").map(String::as_str) {
            Some("mulaw") => Encoding::Mulaw,
            Some("linear16") => Encoding::Linear16,
            Some(other) => {
                return Err(format!(
                    "encoding={other} is not supported by the emulator (mulaw or linear16)"
                ))
            }
            None => {
                return Err("encoding is required: the emulator reads raw mulaw or \
                            linear16 only, not containerized audio"
                    .into())
            }
        };
        let sample_rate: u32 =
            number(&raw, "sample_rate")?.ok_or("sample_rate is required with encoding")?;
        if sample_rate < 8000 {
            return Err(format!("sample_rate={sample_rate} is below 8000"));
        }
        let channels: u16 = number(&raw, "channels")?.unwrap_or(1).max(1);
        let endpointing_ms = match raw.get("endpointing").map(String::as_str) {
            Some("false") => None,
            Some("true") | None => Some(10),
            Some(_) => number(&raw, "endpointing")?,
        };
        Ok(ListenParams {
            encoding,
            sample_rate,
            channels,
            interim_results: flag(&raw, "interim_results"),
            endpointing_ms,
            utterance_end_ms: number(&raw, "utterance_end_ms")?,
            vad_events: flag(&raw, "vad_events"),
            model: raw.get("model").cloned().unwrap_or_else(|| "base".into()),
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_products_query_parses() {
        let p = ListenParams::parse(Some(
            "model=nova-3&encoding=mulaw&sample_rate=8000&channels=1&interim_results=true\
             &endpointing=300&utterance_end_ms=1000&vad_events=true&smart_format=true",
        ))
        .expect("valid");
        assert_eq!(p.encoding, Encoding::Mulaw);
        assert_eq!(p.sample_rate, 8000);
        assert_eq!(p.endpointing_ms, Some(300));
        assert_eq!(p.utterance_end_ms, Some(1000));
        assert!(p.interim_results && p.vad_events);
        assert_eq!(p.raw["smart_format"], "true");
    }

    #[test]
    fn what_cannot_be_served_is_refused() {
        assert!(ListenParams::parse(Some("encoding=opus&sample_rate=48000")).is_err());
        assert!(ListenParams::parse(Some("encoding=mulaw")).is_err());
        assert!(ListenParams::parse(Some("encoding=linear16&sample_rate=4000")).is_err());
        assert!(ListenParams::parse(None).is_err());
        let p = ListenParams::parse(Some(
            "encoding=linear16&sample_rate=16000&endpointing=false",
        ))
        .expect("valid");
        assert_eq!(p.endpointing_ms, None);
    }
}
