//! The room's audio: Opus at 48 kHz in RTP, 8 kHz mu-law in the pipeline.
//!
//! Inbound, each Opus packet (the SIP participant's track, 20 ms as livekit-sip sends it)
//! is decoded to 48 kHz mono, resampled to 8 kHz and cut into the pipeline's 160-byte
//! mu-law frames. Outbound, each 20 ms mu-law frame of the agent is widened, resampled to
//! 48 kHz and encoded as one Opus packet. Both directions keep their resampler's state
//! across frames (the worker's streaming `audio::resample`), so frame edges leave no clicks.

use bytes::Bytes;

use crate::audio::mulaw;
use crate::audio::resample::{ResampleError, Resampler};

/// Opus's RTP clock and the rate the codec runs at here.
pub(super) const OPUS_HZ: u32 = 48_000;
/// The pipeline's rate.
const PIPELINE_HZ: u32 = 8_000;
/// One 20 ms frame at 48 kHz.
pub(super) const OPUS_FRAME: usize = 960;
/// One 20 ms frame of the pipeline (8 kHz mu-law, one byte a sample).
pub(super) const PIPELINE_FRAME: usize = 160;
/// The longest Opus packet libopus produces for 20 ms (its own recommended bound).
const MAX_PACKET: usize = 1275;
/// The longest a received packet may decode to: 120 ms, Opus's largest frame.
const MAX_DECODED: usize = OPUS_HZ as usize / 1000 * 120;

/// Why the codec could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// Room audio to pipeline frames.
pub(super) struct InboundAudio {
    decoder: opus::Decoder,
    resampler: Resampler,
    /// Decoded 48 kHz samples (one packet's worth at most).
    decoded: Vec<i16>,
    /// 8 kHz samples not yet making up a whole frame.
    pending: Vec<i16>,
}

impl InboundAudio {
    pub(super) fn new() -> Result<Self, MediaError> {
        Ok(Self {
            decoder: opus::Decoder::new(OPUS_HZ, opus::Channels::Mono)?,
            resampler: Resampler::new(OPUS_HZ, PIPELINE_HZ)?,
            decoded: vec![0; MAX_DECODED],
            pending: Vec::with_capacity(PIPELINE_FRAME * 2),
        })
    }

    /// Decodes one Opus packet; returns the whole 20 ms mu-law frames now ready.
    pub(super) fn push(&mut self, packet: &[u8]) -> Result<Vec<Bytes>, MediaError> {
        let samples = self.decoder.decode(packet, &mut self.decoded, false)?;
        let narrow = self.resampler.process(&self.decoded[..samples]);
        self.pending.extend_from_slice(&narrow);
        let mut frames = Vec::with_capacity(self.pending.len() / PIPELINE_FRAME);
        let whole = self.pending.len() / PIPELINE_FRAME * PIPELINE_FRAME;
        for chunk in self.pending[..whole].chunks_exact(PIPELINE_FRAME) {
            frames.push(Bytes::from(mulaw::encode(chunk)));
        }
        self.pending.drain(..whole);
        Ok(frames)
    }
}

/// Pipeline frames to room audio.
pub(super) struct OutboundAudio {
    encoder: opus::Encoder,
    resampler: Resampler,
    pcm: Vec<i16>,
    /// 48 kHz samples not yet making up a whole Opus frame.
    pending: Vec<i16>,
    packet: Vec<u8>,
}

impl OutboundAudio {
    pub(super) fn new() -> Result<Self, MediaError> {
        let mut encoder =
            opus::Encoder::new(OPUS_HZ, opus::Channels::Mono, opus::Application::Voip)?;
        // Phone audio: 8 kHz of bandwidth needs little; FEC lets the far end repair a loss.
        encoder.set_bitrate(opus::Bitrate::Bits(24_000))?;
        encoder.set_inband_fec(true)?;
        Ok(Self {
            encoder,
            resampler: Resampler::new(PIPELINE_HZ, OPUS_HZ)?,
            pcm: Vec::with_capacity(PIPELINE_FRAME),
            pending: Vec::with_capacity(OPUS_FRAME * 2),
            packet: vec![0; MAX_PACKET],
        })
    }

    /// Encodes one 20 ms mu-law frame; returns the Opus packet once 20 ms of 48 kHz audio
    /// is ready (the resampler's first output comes a chunk late, then one per frame).
    pub(super) fn push(&mut self, mulaw_frame: &[u8]) -> Result<Option<Vec<u8>>, MediaError> {
        self.pcm.clear();
        mulaw::decode_into(mulaw_frame, &mut self.pcm);
        let wide = self.resampler.process(&self.pcm);
        self.pending.extend_from_slice(&wide);
        if self.pending.len() < OPUS_FRAME {
            return Ok(None);
        }
        let len = self
            .encoder
            .encode(&self.pending[..OPUS_FRAME], &mut self.packet)?;
        self.pending.drain(..OPUS_FRAME);
        Ok(Some(self.packet[..len].to_vec()))
    }
}

/// 20 ms of mu-law silence.
pub(super) fn silence() -> [u8; PIPELINE_FRAME] {
    [mulaw::encode_sample(0); PIPELINE_FRAME]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 kHz tone at 8 kHz, 20 ms a frame.
    fn tone_frames(frames: usize) -> Vec<Vec<u8>> {
        (0..frames)
            .map(|f| {
                let samples: Vec<i16> = (0..PIPELINE_FRAME)
                    .map(|i| {
                        let t = (f * PIPELINE_FRAME + i) as f64 / 8000.0;
                        (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
                    })
                    .collect();
                mulaw::encode(&samples)
            })
            .collect()
    }

    fn energy(frame: &[u8]) -> f64 {
        let pcm = mulaw::decode(frame);
        (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt()
    }

    #[test]
    fn a_tone_survives_opus_both_ways_frame_for_frame() {
        let mut out = OutboundAudio::new().unwrap();
        let mut inbound = InboundAudio::new().unwrap();
        let mut received = Vec::new();
        let mut packets = 0;
        for frame in tone_frames(50) {
            if let Some(packet) = out.push(&frame).unwrap() {
                assert!(packet.len() < 200, "20 ms of voice is a small packet");
                packets += 1;
                received.extend(inbound.push(&packet).unwrap());
            }
        }
        // One packet per frame once the resampler's first chunk is through.
        assert!(packets >= 48, "{packets} packets for 50 frames");
        assert!(received.len() >= 45, "{} frames back", received.len());
        assert!(received.iter().all(|f| f.len() == PIPELINE_FRAME));
        // Past the codecs' start-up, the tone comes back at about its level (~5.7k RMS).
        let level = energy(&received[received.len() - 10]);
        assert!((3000.0..9000.0).contains(&level), "level {level}");
    }

    #[test]
    fn silence_encodes_to_silence() {
        let mut out = OutboundAudio::new().unwrap();
        let mut inbound = InboundAudio::new().unwrap();
        let mut received = Vec::new();
        for _ in 0..20 {
            if let Some(packet) = out.push(&silence()).unwrap() {
                received.extend(inbound.push(&packet).unwrap());
            }
        }
        assert!(!received.is_empty());
        assert!(received.iter().all(|f| energy(f) < 50.0));
    }
}
