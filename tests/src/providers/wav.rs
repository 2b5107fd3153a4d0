//! The little of WAV the emulator needs: a streaming header for TTS output (sizes unknown,
//! written as 0xFFFFFFFF as streaming services do), and a reader for uploaded files.

use crate::audio::mulaw;

/// WAVE_FORMAT_PCM.
pub(crate) const PCM: u16 = 1;
/// WAVE_FORMAT_MULAW.
pub(crate) const MULAW: u16 = 7;
/// WAVE_FORMAT_EXTENSIBLE: the real format is in the sub-format GUID's first two bytes.
const EXTENSIBLE: u16 = 0xFFFE;

/// A 44-byte header for a mono stream of unknown length.
pub(crate) fn stream_header(format: u16, rate: u32, bits: u16) -> Vec<u8> {
    let block = bits / 8;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&format.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h
}

/// A complete mono 16-bit PCM file, as a client would upload it.
#[cfg(test)]
pub(crate) fn pcm16_file(rate: u32, samples: &[i16]) -> Vec<u8> {
    let mut file = stream_header(PCM, rate, 16);
    let data = (samples.len() * 2) as u32;
    file[4..8].copy_from_slice(&(36 + data).to_le_bytes());
    file[40..44].copy_from_slice(&data.to_le_bytes());
    file.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
    file
}

/// Why an upload is not usable audio.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WavError {
    #[error("not a RIFF/WAVE file")]
    NotWav,
    #[error("no fmt chunk before the data")]
    NoFormat,
    #[error(
        "unsupported WAV encoding {format} with {bits} bits (16-bit PCM or 8-bit mu-law only)"
    )]
    Unsupported { format: u16, bits: u16 },
    #[error("no data chunk")]
    NoData,
}

/// Decoded audio: the first channel as 16-bit PCM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WavAudio {
    pub rate: u32,
    pub samples: Vec<i16>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a WAV file (16-bit PCM or mu-law, any channel count: the first is kept).
pub(crate) fn parse(bytes: &[u8]) -> Result<WavAudio, WavError> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(WavError::NotWav);
    }
    let mut at = 12;
    let mut format = None;
    while let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(bytes, at + 4)) {
        let body = at + 8;
        if id == b"fmt " {
            let tag = u16_at(bytes, body).ok_or(WavError::NoFormat)?;
            let channels = u16_at(bytes, body + 2).ok_or(WavError::NoFormat)?;
            let rate = u32_at(bytes, body + 4).ok_or(WavError::NoFormat)?;
            let bits = u16_at(bytes, body + 14).ok_or(WavError::NoFormat)?;
            let tag = if tag == EXTENSIBLE {
                u16_at(bytes, body + 24).ok_or(WavError::NoFormat)?
            } else {
                tag
            };
            format = Some((tag, channels.max(1), rate, bits));
        } else if id == b"data" {
            let (tag, channels, rate, bits) = format.ok_or(WavError::NoFormat)?;
            // Streamed files carry 0 or 0xFFFFFFFF: the data runs to the end.
            let end = match size {
                0 | u32::MAX => bytes.len(),
                n => (body + n as usize).min(bytes.len()),
            };
            let data = &bytes[body.min(end)..end];
            let samples = match (tag, bits) {
                (PCM, 16) => data
                    .chunks_exact(2 * usize::from(channels))
                    .map(|f| i16::from_le_bytes([f[0], f[1]]))
                    .collect(),
                (MULAW, 8) => data
                    .chunks_exact(usize::from(channels))
                    .map(|f| mulaw::decode_sample(f[0]))
                    .collect(),
                (format, bits) => return Err(WavError::Unsupported { format, bits }),
            };
            return Ok(WavAudio { rate, samples });
        }
        // Chunks are padded to even sizes.
        at = body.saturating_add(size as usize + (size as usize & 1));
    }
    Err(if format.is_some() {
        WavError::NoData
    } else {
        WavError::NotWav
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back() {
        let samples = [0i16, 1, -1, 1234, -32768, 32767];
        let file = pcm16_file(16000, &samples);
        assert_eq!(
            parse(&file),
            Ok(WavAudio {
                rate: 16000,
                samples: samples.to_vec()
            })
        );
    }

    #[test]
    fn a_streamed_mulaw_file_reads_to_its_end() {
        let mut file = stream_header(MULAW, 8000, 8);
        file.extend(mulaw::encode(&[1000, -1000]));
        let audio = parse(&file).expect("parses");
        assert_eq!(audio.samples.len(), 2);
        assert!(audio.samples[0] > 900 && audio.samples[1] < -900);
        assert_eq!(parse(b"OggS...."), Err(WavError::NotWav));
    }
}
