//! The room's audio: Opus in RTP, 8 kHz mu-law in the pipeline, and nothing in between.
//!
//! RTP's Opus clock is always 48 kHz (RFC 7587), but the codec itself may run at 8, 12,
//! 16, 24 or 48 kHz on either side without the peer knowing: an Opus packet says its own
//! bandwidth and any decoder renders it at the rate it was opened with. So both the
//! encoder and the decoder here run at the pipeline's 8 kHz: no resampler in either
//! direction, and libopus does narrowband work only. The phone line behind livekit-sip
//! is 8 kHz mu-law anyway, so nothing audible is lost.
//!
//! Inbound, each Opus packet (the SIP participant's track, 20 ms as livekit-sip sends it)
//! is decoded straight to 8 kHz and cut into the pipeline's 160-byte mu-law frames.
//! Outbound, each 20 ms mu-law frame of the agent is widened and encoded as one packet.
//!
//! The encoder's settings were chosen by measurement (the LiveKit bench and the speech
//! code through a codec round trip, README "LiveKit calls per core"): the 48 kHz codec at
//! complexity 10 was 78% of the worker's CPU. SILK (the `Voip` application) at complexity
//! 1 costs a tenth of that and still carries the test speech code intact, and keeps
//! in-band FEC, which only SILK has.

use bytes::Bytes;

use crate::audio::mulaw;

/// The rate the codec and the pipeline run at.
const CODEC_HZ: u32 = 8_000;
/// Opus's RTP clock (RFC 7587).
pub(super) const RTP_HZ: u32 = 48_000;
/// One 20 ms frame on Opus's 48 kHz RTP clock.
pub(super) const OPUS_FRAME: usize = 960;
/// One 20 ms frame of the pipeline (8 kHz mu-law, one byte a sample) and of the codec.
pub(super) const PIPELINE_FRAME: usize = 160;
/// The longest Opus packet libopus produces for 20 ms (its own recommended bound).
const MAX_PACKET: usize = 1275;
/// The longest a received packet may decode to: 120 ms, Opus's largest frame.
const MAX_DECODED: usize = CODEC_HZ as usize / 1000 * 120;
/// Lost packets concealed before the next one; a longer loss is a gap (the call's clock
/// has moved on, and made-up audio that long is not speech).
const MAX_CONCEALED: usize = 5;
/// libopus's encoder complexity (0-10): 1 measured a tenth of the default 10's CPU with
/// the speech code still intact; 0 lost utterances at low bitrates in the same test.
const COMPLEXITY: i32 = 1;
/// Narrowband SILK needs little; 24 kbit/s leaves the speech code a wide margin.
const BITRATE: i32 = 24_000;

/// Why the codec could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
}

/// Room audio to pipeline frames.
pub(super) struct InboundAudio {
    decoder: opus::Decoder,
    /// RTP time (48 kHz) where the last packet ended.
    rtp_end: Option<u64>,
    /// Decoded 8 kHz samples (one packet's worth at most).
    decoded: Vec<i16>,
    /// 8 kHz samples not yet making up a whole frame (a packet need not be 20 ms).
    pending: Vec<i16>,
}

impl InboundAudio {
    pub(super) fn new() -> Result<Self, MediaError> {
        Ok(Self {
            decoder: opus::Decoder::new(CODEC_HZ, opus::Channels::Mono)?,
            rtp_end: None,
            decoded: vec![0; MAX_DECODED],
            pending: Vec::with_capacity(MAX_DECODED + PIPELINE_FRAME),
        })
    }

    /// Decodes the packet str0m delivered at `rtp_time` (48 kHz); `contiguous` false means
    /// an earlier one was lost and str0m moved past it, and the RTP time says how much
    /// audio is missing. Returns the whole 20 ms mu-law frames now ready, and whether the
    /// packet came after a loss.
    pub(super) fn receive(
        &mut self,
        packet: &[u8],
        rtp_time: u64,
        contiguous: bool,
    ) -> (Result<Vec<Bytes>, MediaError>, bool) {
        let lost = match self.rtp_end {
            Some(end) if !contiguous && rtp_time > end => {
                Some(usize::try_from((rtp_time - end) / OPUS_FRAME as u64).unwrap_or(usize::MAX))
            }
            _ => None,
        };
        // livekit-sip may send 40 ms packets: the packet says its length.
        let length = opus::packet::get_nb_samples(packet, RTP_HZ).unwrap_or(OPUS_FRAME);
        self.rtp_end = Some(rtp_time + length as u64);
        (
            self.push_after_loss(packet, lost.unwrap_or(0)),
            lost.is_some(),
        )
    }

    /// Decodes one Opus packet; returns the whole 20 ms mu-law frames now ready.
    #[cfg(test)]
    pub(super) fn push(&mut self, packet: &[u8]) -> Result<Vec<Bytes>, MediaError> {
        self.push_after_loss(packet, 0)
    }

    /// As [`Self::push`], after `lost` 20 ms packets that never came: each is concealed
    /// (the last from `packet`'s in-band FEC when it carries some, the others by the
    /// decoder's loss concealment), at most [`MAX_CONCEALED`] of them. Skipping them would
    /// pull the rest of the callee's speech 20 ms earlier per packet, which a recogniser
    /// hears as a cut inside a word.
    fn push_after_loss(&mut self, packet: &[u8], lost: usize) -> Result<Vec<Bytes>, MediaError> {
        let lost = lost.min(MAX_CONCEALED);
        for n in 0..lost {
            let frame = &mut self.decoded[..PIPELINE_FRAME];
            // libopus: FEC from the next packet repairs the frame just before it; with
            // no FEC in it, or an empty packet, the decoder conceals.
            let samples = if n + 1 == lost {
                self.decoder.decode(packet, frame, true)?
            } else {
                self.decoder.decode(&[], frame, false)?
            };
            self.pending.extend_from_slice(&self.decoded[..samples]);
        }
        let samples = self.decoder.decode(packet, &mut self.decoded, false)?;
        self.pending.extend_from_slice(&self.decoded[..samples]);
        let whole = self.pending.len() / PIPELINE_FRAME * PIPELINE_FRAME;
        let frames = self.pending[..whole]
            .chunks_exact(PIPELINE_FRAME)
            .map(|chunk| Bytes::from(mulaw::encode(chunk)))
            .collect();
        self.pending.drain(..whole);
        Ok(frames)
    }
}

/// Pipeline frames to room audio.
pub(super) struct OutboundAudio {
    encoder: opus::Encoder,
    /// 8 kHz samples not yet making up a whole 20 ms Opus frame.
    pending: Vec<i16>,
    packet: Vec<u8>,
}

impl OutboundAudio {
    pub(super) fn new() -> Result<Self, MediaError> {
        let mut encoder =
            opus::Encoder::new(CODEC_HZ, opus::Channels::Mono, opus::Application::Voip)?;
        encoder.set_complexity(COMPLEXITY)?;
        encoder.set_bitrate(opus::Bitrate::Bits(BITRATE))?;
        // FEC lets the far end repair a lost packet from the next one.
        encoder.set_inband_fec(true)?;
        Ok(Self {
            encoder,
            pending: Vec::with_capacity(PIPELINE_FRAME * 2),
            packet: vec![0; MAX_PACKET],
        })
    }

    /// Encodes one 20 ms mu-law frame into one Opus packet (the pipeline's frames are
    /// all 20 ms; a shorter one waits in `pending` for the rest, as Opus encodes whole
    /// frames only, so the answer is then `None`).
    pub(super) fn push(&mut self, mulaw_frame: &[u8]) -> Result<Option<Vec<u8>>, MediaError> {
        mulaw::decode_into(mulaw_frame, &mut self.pending);
        if self.pending.len() < PIPELINE_FRAME {
            return Ok(None);
        }
        let len = self
            .encoder
            .encode(&self.pending[..PIPELINE_FRAME], &mut self.packet)?;
        self.pending.drain(..PIPELINE_FRAME);
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

    /// The tone of [`tone_frames`], encoded as the agent's packets.
    fn tone_packets(frames: usize) -> Vec<Vec<u8>> {
        let mut out = OutboundAudio::new().unwrap();
        tone_frames(frames)
            .iter()
            .filter_map(|frame| out.push(frame).unwrap())
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
        // One packet per frame, from the first.
        assert_eq!(packets, 50, "{packets} packets for 50 frames");
        assert_eq!(received.len(), 50, "one frame back per packet");
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

    #[test]
    fn lost_packets_are_concealed_frame_for_frame() {
        let mut inbound = InboundAudio::new().unwrap();
        let packets = tone_packets(30);
        let mut received = Vec::new();
        for (n, packet) in packets.iter().enumerate() {
            match n {
                // Packets 10-12 never come; 13 arrives after the loss of three.
                10..=12 => {}
                13 => received.extend(inbound.push_after_loss(packet, 3).unwrap()),
                _ => received.extend(inbound.push(packet).unwrap()),
            }
        }
        assert_eq!(received.len(), 30, "every lost frame is filled in");
        // The concealment carries the tone on (not silence) into the loss.
        let concealed = energy(&received[10]);
        assert!(concealed > 1000.0, "concealed level {concealed}");
        // A very long loss is capped.
        let mut inbound = InboundAudio::new().unwrap();
        let frames = inbound.push_after_loss(&packets[0], 50).unwrap();
        assert_eq!(frames.len(), 1 + MAX_CONCEALED);
    }

    #[test]
    fn a_packet_after_a_loss_is_told_by_its_rtp_time() {
        let mut inbound = InboundAudio::new().unwrap();
        let packets = tone_packets(6);
        let at = |n: usize| (n * OPUS_FRAME) as u64;
        let (frames, after_loss) = inbound.receive(&packets[0], at(0), true);
        assert_eq!((frames.unwrap().len(), after_loss), (1, false));
        // Packets 1 and 2 are lost: 3 fills them in.
        let (frames, after_loss) = inbound.receive(&packets[3], at(3), false);
        assert_eq!((frames.unwrap().len(), after_loss), (3, true));
        // A jump in RTP time with no loss (the sender paused) is not filled.
        let (frames, after_loss) = inbound.receive(&packets[4], at(40), true);
        assert_eq!((frames.unwrap().len(), after_loss), (1, false));
    }

    /// livekit-sip encodes at 48 kHz, full band, and may send 40 ms packets: the 8 kHz
    /// decoder renders any of them to whole pipeline frames, the tone at its level.
    #[test]
    fn a_fullband_48_khz_peer_decodes_to_pipeline_frames() {
        let mut peer =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let mut inbound = InboundAudio::new().unwrap();
        let mut received = Vec::new();
        let mut packet = vec![0; MAX_PACKET];
        // 1 kHz at 48 kHz, in 40 ms packets (1920 samples).
        for p in 0..25 {
            let samples: Vec<i16> = (0..1920)
                .map(|i| {
                    let t = (p * 1920 + i) as f64 / 48_000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
                })
                .collect();
            let len = peer.encode(&samples, &mut packet).unwrap();
            received.extend(inbound.push(&packet[..len]).unwrap());
        }
        assert_eq!(received.len(), 50, "two 20 ms frames per 40 ms packet");
        let level = energy(&received[received.len() - 10]);
        assert!((3000.0..9000.0).contains(&level), "level {level}");
    }
}
