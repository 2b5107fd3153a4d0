//! Output formats and turning text into audio bytes in one of them.
//!
//! Text is encoded directly at the requested rate (the speech code works at any rate from
//! 8 kHz), so no resampler sits between what was asked and what is sent.

use super::cache::SpeechCache;
use super::text::utterances;
use crate::audio::mulaw;
use crate::providers::wav;
use crate::speech_code::EncodeError;
use bytes::Bytes;

/// Silence between the utterances a long text is split into.
const GAP_MS: u64 = 100;

/// Sample encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// G.711 mu-law, one byte per sample.
    Mulaw,
    /// 16-bit signed little-endian.
    Pcm16,
}

/// What a client asked to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AudioFormat {
    pub encoding: Encoding,
    pub rate: u32,
    /// Preceded by a streaming WAV header.
    pub wav: bool,
}

impl AudioFormat {
    pub(crate) fn mulaw(rate: u32) -> Self {
        AudioFormat {
            encoding: Encoding::Mulaw,
            rate,
            wav: false,
        }
    }

    pub(crate) fn pcm(rate: u32) -> Self {
        AudioFormat {
            encoding: Encoding::Pcm16,
            rate,
            wav: false,
        }
    }

    pub(crate) fn in_wav(mut self, wav: bool) -> Self {
        self.wav = wav;
        self
    }

    /// Bytes per sample.
    pub(crate) fn sample_bytes(&self) -> usize {
        match self.encoding {
            Encoding::Mulaw => 1,
            Encoding::Pcm16 => 2,
        }
    }

    /// Bytes of audio per millisecond (fractional at 22.05/44.1 kHz).
    pub(crate) fn bytes_per_ms(&self) -> f64 {
        f64::from(self.rate) * self.sample_bytes() as f64 / 1000.0
    }

    /// For reports: `ulaw_8000`, `pcm_24000`, with `wav:` in front when in a container.
    pub(crate) fn label(&self) -> String {
        let name = match self.encoding {
            Encoding::Mulaw => "ulaw",
            Encoding::Pcm16 => "pcm",
        };
        let wav = if self.wav { "wav:" } else { "" };
        format!("{wav}{name}_{}", self.rate)
    }

    /// The container header to send before the audio, if any.
    pub(crate) fn header(&self) -> Bytes {
        if !self.wav {
            return Bytes::new();
        }
        match self.encoding {
            Encoding::Mulaw => wav::stream_header(wav::MULAW, self.rate, 8).into(),
            Encoding::Pcm16 => wav::stream_header(wav::PCM, self.rate, 16).into(),
        }
    }

    fn append(&self, pcm: &[i16], out: &mut Vec<u8>) {
        match self.encoding {
            Encoding::Mulaw => out.extend(pcm.iter().map(|&s| mulaw::encode_sample(s))),
            Encoding::Pcm16 => out.extend(pcm.iter().flat_map(|s| s.to_le_bytes())),
        }
    }
}

/// A text as audio.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    /// The audio bytes (no container header).
    pub audio: Bytes,
    /// Its length in milliseconds.
    pub audio_ms: u64,
}

/// Speaks ASCII `text` in `format`: one utterance per piece of at most 255 bytes, with
/// 100 ms of silence between pieces.
pub(crate) async fn render(
    cache: &SpeechCache,
    text: &str,
    format: AudioFormat,
) -> Result<Rendered, EncodeError> {
    let gap = vec![0i16; (GAP_MS * u64::from(format.rate) / 1000) as usize];
    let mut out = Vec::new();
    let mut samples = 0usize;
    for (i, piece) in utterances(text).into_iter().enumerate() {
        if i > 0 {
            format.append(&gap, &mut out);
            samples += gap.len();
        }
        let pcm = cache.utterance(piece, format.rate).await?;
        format.append(&pcm, &mut out);
        samples += pcm.len();
    }
    Ok(Rendered {
        audio: out.into(),
        audio_ms: samples as u64 * 1000 / u64::from(format.rate),
    })
}
