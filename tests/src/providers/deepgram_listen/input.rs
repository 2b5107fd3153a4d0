//! Binary frames to 16-bit samples: mu-law or little-endian linear16, first channel only.
//! Frames may split samples anywhere; the remainder waits for the next frame.

use super::params::Encoding;
use crate::audio::mulaw;
use std::sync::LazyLock;

/// Mu-law decoding by table: it runs for every byte of every call.
static MULAW: LazyLock<[i16; 256]> = LazyLock::new(|| {
    let mut table = [0i16; 256];
    for (byte, slot) in table.iter_mut().enumerate() {
        *slot = mulaw::decode_sample(byte as u8);
    }
    table
});

/// Turns the byte stream into samples.
pub(super) struct AudioIn {
    encoding: Encoding,
    /// Bytes per interleaved frame (all channels).
    frame: usize,
    carry: Vec<u8>,
    bytes: u64,
}

impl AudioIn {
    pub(super) fn new(encoding: Encoding, channels: u16) -> Self {
        let sample = match encoding {
            Encoding::Mulaw => 1,
            Encoding::Linear16 => 2,
        };
        AudioIn {
            encoding,
            frame: sample * usize::from(channels.max(1)),
            carry: Vec::new(),
            bytes: 0,
        }
    }

    /// The samples of the first channel that `bytes` completes.
    pub(super) fn push(&mut self, bytes: &[u8]) -> Vec<i16> {
        self.bytes += bytes.len() as u64;
        let joined;
        let data: &[u8] = if self.carry.is_empty() {
            bytes
        } else {
            let mut buf = std::mem::take(&mut self.carry);
            buf.extend_from_slice(bytes);
            joined = buf;
            &joined
        };
        let whole = data.len() - data.len() % self.frame;
        let (frames, rest) = data.split_at(whole);
        let samples = frames
            .chunks_exact(self.frame)
            .map(|f| match self.encoding {
                Encoding::Mulaw => MULAW[usize::from(f[0])],
                Encoding::Linear16 => i16::from_le_bytes([f[0], f[1]]),
            })
            .collect();
        self.carry = rest.to_vec();
        samples
    }

    /// Bytes received so far.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes per second of audio at `rate`.
    pub(super) fn bytes_per_second(&self, rate: u32) -> f64 {
        self.frame as f64 * f64::from(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear16_samples_split_across_frames_are_joined() {
        let mut input = AudioIn::new(Encoding::Linear16, 1);
        let bytes: Vec<u8> = [1000i16, -2000, 3000]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let mut out = input.push(&bytes[..3]);
        out.extend(input.push(&bytes[3..]));
        assert_eq!(out, vec![1000, -2000, 3000]);
    }

    #[test]
    fn only_the_first_channel_is_kept() {
        let mut input = AudioIn::new(Encoding::Mulaw, 2);
        let out = input.push(&[0xFF, 0x00, 0x80, 0x00]);
        assert_eq!(out, vec![0, mulaw::decode_sample(0x80)]);
        assert_eq!(input.bytes(), 4);
    }
}
