//! A call's recording as the API serves it, taken apart for checks: the stereo WAV (the
//! callee on the left, the agent on the right, 8 kHz, 16-bit), its length, and what the
//! test speech code says on each channel.

use anyhow::Context;
use serde_json::Value;

use crate::rig::Api;
use crate::speech_code::{DecodeEvent, Decoder};

/// One downloaded recording.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The API's view of it (`channels`, `durationSec`, ...).
    pub meta: Value,
    pub rate: u32,
    pub channels: u16,
    /// The callee.
    pub left: Vec<i16>,
    /// The agent.
    pub right: Vec<i16>,
}

impl Recording {
    /// The call's recordings: the list, then each one's audio.
    pub async fn of_call(api: &Api, call_id: &str) -> anyhow::Result<Vec<Recording>> {
        let list = api
            .get(&format!("/api/v1/calls/{call_id}/recordings"))
            .await?;
        let mut recordings = Vec::new();
        for meta in list["data"].as_array().cloned().unwrap_or_default() {
            let id = meta["id"].as_str().context("a recording without an id")?;
            let response = api
                .client
                .get(format!(
                    "{}/api/v1/calls/{call_id}/recordings/{id}/audio",
                    api.base
                ))
                .bearer_auth(&api.token)
                .send()
                .await?;
            anyhow::ensure!(
                response.status() == 200,
                "recording {id}: HTTP {}",
                response.status()
            );
            let kind = response.headers()["content-type"].to_str()?.to_string();
            anyhow::ensure!(kind == "audio/wav", "recording {id} is {kind}");
            let wav = response.bytes().await?;
            let (rate, channels, samples) = parse_wav(&wav)?;
            let (left, right) = if channels == 2 {
                (
                    samples.iter().step_by(2).copied().collect(),
                    samples.iter().skip(1).step_by(2).copied().collect(),
                )
            } else {
                (samples, Vec::new())
            };
            recordings.push(Recording {
                meta,
                rate,
                channels,
                left,
                right,
            });
        }
        Ok(recordings)
    }

    /// Its length in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.left.len() as u64 * 1000 / u64::from(self.rate.max(1))
    }
}

/// Every utterance of the speech code in `samples` at `rate`.
pub fn decode_all(samples: &[i16], rate: u32) -> Vec<String> {
    let mut decoder = Decoder::new(rate);
    let mut events = decoder.push(samples);
    events.extend(decoder.finish());
    events
        .into_iter()
        .filter_map(|event| match event {
            DecodeEvent::Utterance(utterance) => Some(utterance.text),
            DecodeEvent::Error(_) => None,
        })
        .collect()
}

/// A 16-bit PCM WAV: its rate, channel count and interleaved samples.
fn parse_wav(wav: &[u8]) -> anyhow::Result<(u32, u16, Vec<i16>)> {
    anyhow::ensure!(
        wav.len() >= 12 && &wav[0..4] == b"RIFF" && &wav[8..12] == b"WAVE",
        "not a WAV file"
    );
    let mut at = 12;
    let (mut format, mut data) = (None, None);
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let len = u32::from_le_bytes(wav[at + 4..at + 8].try_into()?) as usize;
        let body = &wav[at + 8..(at + 8 + len).min(wav.len())];
        if id == b"fmt " && body.len() >= 16 {
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes(body[4..8].try_into()?);
            let bits = u16::from_le_bytes([body[14], body[15]]);
            anyhow::ensure!(bits == 16, "{bits}-bit samples");
            format = Some((rate, channels));
        } else if id == b"data" {
            data = Some(body);
        }
        at += 8 + len + (len & 1);
    }
    let (rate, channels) = format.context("no fmt chunk")?;
    let samples = data
        .context("no data chunk")?
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    Ok((rate, channels, samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stereo_wav_parses_to_its_rate_channels_and_samples() {
        let samples: [i16; 4] = [1, -1, 300, -300];
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut wav = b"RIFF".to_vec();
        wav.extend((36 + data.len() as u32).to_le_bytes());
        wav.extend(b"WAVEfmt ");
        wav.extend(16u32.to_le_bytes());
        wav.extend(1u16.to_le_bytes());
        wav.extend(2u16.to_le_bytes());
        wav.extend(8000u32.to_le_bytes());
        wav.extend(32_000u32.to_le_bytes());
        wav.extend(4u16.to_le_bytes());
        wav.extend(16u16.to_le_bytes());
        wav.extend(b"data");
        wav.extend((data.len() as u32).to_le_bytes());
        wav.extend(&data);
        assert_eq!(parse_wav(&wav).unwrap(), (8000, 2, samples.to_vec()));
        assert!(parse_wav(b"RIFF....WAVX").is_err());
    }
}
