//! The listen stream's framing, and the supervisor's voice on its way to the callee.
//!
//! Listen frames are binary WebSocket messages of 20 ms of 16 kHz 16-bit little-endian
//! stereo PCM (1,280 bytes: 320 sample pairs), left = the callee, right = what the callee
//! hears from our side (the agent, or the supervisor during a take-over).
//!
//! The callee's frames arrive on the call's own 20 ms clock; the agent's are sent ahead of
//! their play time by the pacer. So the agent's frames wait in a queue and one is taken
//! for every callee frame (silence when there is none): the right channel then plays when
//! the callee hears it, and a `clear` (barge-in) drops the queue as it drops the far end's
//! buffer.

use crate::audio::mulaw;
use crate::audio::resample::Resampler;
use bytes::Bytes;
use std::collections::VecDeque;

/// The listen stream's (and the supervisor's) sample rate.
pub const RATE: u32 = 16_000;
/// Samples per channel in one 20 ms listen frame.
pub const FRAME_SAMPLES: usize = 320;
/// Bytes of one listen frame: 320 pairs of two 16-bit samples.
pub const FRAME_BYTES: usize = FRAME_SAMPLES * 4;
/// Agent frames kept waiting for their play time (10 s: far beyond the pacer's lead).
const AGENT_QUEUE: usize = 500;

/// Builds listen frames from the call's two directions.
pub struct ListenMixer {
    agent: VecDeque<Bytes>,
    callee_up: Resampler,
    agent_up: Resampler,
    left: VecDeque<i16>,
    right: VecDeque<i16>,
    scratch: Vec<i16>,
}

impl ListenMixer {
    pub fn new() -> Self {
        Self {
            agent: VecDeque::new(),
            callee_up: upsampler(),
            agent_up: upsampler(),
            left: VecDeque::new(),
            right: VecDeque::new(),
            scratch: Vec::with_capacity(crate::audio::FRAME_SAMPLES),
        }
    }

    /// Audio the agent sent (8 kHz mu-law, one or more whole 20 ms frames: a transport
    /// may carry several per message); it plays after what was sent before it.
    pub fn agent(&mut self, mulaw: &[u8]) {
        for frame in mulaw.chunks(crate::audio::FRAME_SAMPLES) {
            if self.agent.len() >= AGENT_QUEUE {
                self.agent.pop_front();
            }
            self.agent.push_back(Bytes::copy_from_slice(frame));
        }
    }

    /// Agent frames waiting for their play time.
    pub fn queued(&self) -> usize {
        self.agent.len()
    }

    /// The far end dropped what it had not played.
    pub fn clear(&mut self) {
        self.agent.clear();
    }

    /// Forgets everything (nobody listens).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// One callee frame (8 kHz mu-law): the clock that plays one agent frame too.
    /// Returns the listen frames now complete.
    pub fn callee(&mut self, mulaw_frame: &[u8]) -> Vec<Bytes> {
        let agent = self.agent.pop_front();
        let agent_bytes: &[u8] = agent.as_deref().unwrap_or(&SILENCE_FRAME);
        self.scratch.clear();
        mulaw::decode_into(mulaw_frame, &mut self.scratch);
        self.left.extend(self.callee_up.process(&self.scratch));
        self.scratch.clear();
        mulaw::decode_into(agent_bytes, &mut self.scratch);
        // Keep the channels the same length even if a frame was short.
        self.scratch.resize(mulaw_frame.len(), 0);
        self.right.extend(self.agent_up.process(&self.scratch));
        let mut frames = Vec::new();
        while self.left.len() >= FRAME_SAMPLES && self.right.len() >= FRAME_SAMPLES {
            let mut frame = Vec::with_capacity(FRAME_BYTES);
            for (l, r) in self
                .left
                .drain(..FRAME_SAMPLES)
                .zip(self.right.drain(..FRAME_SAMPLES))
            {
                frame.extend_from_slice(&l.to_le_bytes());
                frame.extend_from_slice(&r.to_le_bytes());
            }
            frames.push(Bytes::from(frame));
        }
        frames
    }
}

impl Default for ListenMixer {
    fn default() -> Self {
        Self::new()
    }
}

/// 20 ms of mu-law silence (0xff is zero).
const SILENCE_FRAME: [u8; crate::audio::FRAME_SAMPLES] = [0xff; crate::audio::FRAME_SAMPLES];

fn upsampler() -> Resampler {
    // 8 kHz to 16 kHz is a rate the resampler always takes.
    Resampler::new(crate::audio::SAMPLE_RATE, RATE).unwrap_or_else(|e| unreachable!("{e}"))
}

/// The supervisor's voice (16 kHz s16le, any chunking) cut into 20 ms 8 kHz mu-law
/// frames for the callee.
pub struct SupervisorVoice {
    down: Resampler,
    /// An odd byte left over from the last chunk.
    odd: Option<u8>,
    samples: Vec<i16>,
    out: VecDeque<i16>,
}

impl SupervisorVoice {
    pub fn new() -> Self {
        Self {
            down: Resampler::new(RATE, crate::audio::SAMPLE_RATE)
                .unwrap_or_else(|e| unreachable!("{e}")),
            odd: None,
            samples: Vec::new(),
            out: VecDeque::new(),
        }
    }

    /// Feeds a chunk; returns the frames now complete.
    pub fn push(&mut self, pcm: &[u8]) -> Vec<Bytes> {
        self.samples.clear();
        let mut bytes = pcm.iter().copied();
        if let Some(first) = self.odd.take() {
            match bytes.next() {
                Some(second) => self.samples.push(i16::from_le_bytes([first, second])),
                None => self.odd = Some(first),
            }
        }
        let rest: Vec<u8> = bytes.collect();
        let mut pairs = rest.chunks_exact(2);
        self.samples
            .extend(pairs.by_ref().map(|b| i16::from_le_bytes([b[0], b[1]])));
        if let [last] = pairs.remainder() {
            self.odd = Some(*last);
        }
        self.out.extend(self.down.process(&self.samples));
        let frame = crate::audio::FRAME_SAMPLES;
        let mut frames = Vec::new();
        while self.out.len() >= frame {
            let chunk: Vec<i16> = self.out.drain(..frame).collect();
            frames.push(Bytes::from(mulaw::encode(&chunk)));
        }
        frames
    }

    /// The take-over ended: forget the partial frame.
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

impl Default for SupervisorVoice {
    fn default() -> Self {
        Self::new()
    }
}
