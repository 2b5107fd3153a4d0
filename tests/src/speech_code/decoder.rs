//! Audio to text, streaming: feed samples in chunks of any size, get events out.
//!
//! While searching, every millisecond is tested for the preamble; a hit locks the symbol
//! clock to the middle of the positions that match, which tolerates a few milliseconds of
//! offset (resampler delay, jitter) either way. Then each symbol is read from its window as
//! it arrives. A symbol that is too quiet or not clearly two of our tones ends the
//! utterance with an error at once; so does a bad CRC at the end.

use super::alphabet::{Symbol, Timing, HIGH_TONES, LOW_TONES, PREAMBLE, SYMBOL_MS};
use super::events::{DecodeError, DecodeEvent, DecodeFault, Utterance};
use super::frame::{self, FrameFault};
use super::goertzel::{coefficient, fractions, mean_square};

/// Each preamble window must hold at least this share of its energy in the two sync tones.
const SYNC_THRESHOLD: f64 = 0.7;
/// Positions scoring within this of the best are taken as equally good; the clock is set
/// to their middle, the point furthest from the neighbouring symbols.
const SYNC_PLATEAU: f64 = 0.05;
/// Quieter than -55 dBFS is silence, whatever its spectrum.
const SILENCE_FLOOR: f64 = 3.2e-6;
/// A data symbol more than 15 dB below the preamble means the signal is gone.
const LOST_SIGNAL_RATIO: f64 = 0.0316;
/// The chosen low and high tone together must hold this share of the window's energy.
const SYMBOL_MIN_SHARE: f64 = 0.6;
/// The runner-up tone of a group must be below this share of the winner.
const RUNNER_UP_MAX: f64 = 0.5;

#[derive(Debug)]
enum State {
    /// Testing position `next` for a preamble; `run` holds the consecutive hits so far.
    Searching {
        next: u64,
        run: Vec<(u64, f64)>,
    },
    Receiving(Reception),
}

#[derive(Debug)]
struct Reception {
    start: u64,
    /// Mean square of the preamble: the level a data symbol is compared with.
    reference: f64,
    nibbles: Vec<u8>,
    /// Data symbols in the frame, known once the length byte is in.
    total: Option<usize>,
}

/// Streaming decoder for one audio stream at one sample rate.
#[derive(Debug)]
pub struct Decoder {
    timing: Timing,
    /// Samples not yet consumed, scaled to [-1, 1].
    buf: Vec<f32>,
    /// Absolute index of `buf[0]`.
    buf_start: u64,
    state: State,
    /// Goertzel coefficients of each preamble window's two tones, and of the four low
    /// then four high data tones (the rate is fixed, so they are worked out once).
    preamble: [[f64; 2]; PREAMBLE.len()],
    data: [f64; 8],
}

impl Decoder {
    /// A decoder for audio at `rate` Hz (8000 or more).
    pub fn new(rate: u32) -> Self {
        Decoder {
            timing: Timing { rate },
            buf: Vec::new(),
            buf_start: 0,
            state: State::Searching {
                next: 0,
                run: Vec::new(),
            },
            preamble: PREAMBLE.map(|symbol| symbol.tones().map(|f| coefficient(f, rate))),
            data: std::array::from_fn(|i| {
                let tone = if i < 4 {
                    LOW_TONES[i]
                } else {
                    HIGH_TONES[i - 4]
                };
                coefficient(tone, rate)
            }),
        }
    }

    /// Feeds samples; returns what they completed, in order.
    pub fn push(&mut self, samples: &[i16]) -> Vec<DecodeEvent> {
        self.buf
            .extend(samples.iter().map(|&s| f32::from(s) / 32768.0));
        let mut events = Vec::new();
        while self.step(&mut events) {}
        self.trim();
        events
    }

    /// Ends the input: an utterance still being read is reported as truncated.
    pub fn finish(&mut self) -> Vec<DecodeEvent> {
        let end = self.end();
        let mut events = Vec::new();
        if let State::Receiving(rx) = &self.state {
            events.push(DecodeEvent::Error(DecodeError {
                fault: DecodeFault::Truncated,
                start_sample: rx.start,
                end_sample: end,
            }));
        }
        self.state = State::Searching {
            next: end,
            run: Vec::new(),
        };
        events
    }

    /// True while an utterance has been synced and not yet completed or rejected.
    pub fn in_utterance(&self) -> bool {
        matches!(self.state, State::Receiving(_))
    }

    /// First sample of the utterance being read, while one is: lets a listener report
    /// speech starting as soon as the preamble is recognised, before the text is known.
    pub fn utterance_start(&self) -> Option<u64> {
        match &self.state {
            State::Receiving(rx) => Some(rx.start),
            State::Searching { .. } => None,
        }
    }

    /// While searching, the next position to be tested for a preamble. Positions are
    /// tested on a 1 ms grid from here, so a caller that skips silence and resumes with a
    /// fresh decoder can keep to the same grid (and so find the same sync positions).
    pub fn search_position(&self) -> Option<u64> {
        match &self.state {
            State::Searching { next, .. } => Some(*next),
            State::Receiving(_) => None,
        }
    }

    /// Samples fed so far.
    pub fn position(&self) -> u64 {
        self.end()
    }

    fn end(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    fn window(&self, at: u64, len: usize) -> Option<&[f32]> {
        let from = usize::try_from(at.checked_sub(self.buf_start)?).ok()?;
        self.buf.get(from..from + len)
    }

    /// Does one unit of work; false when it needs more input.
    fn step(&mut self, events: &mut Vec<DecodeEvent>) -> bool {
        let idle = State::Searching {
            next: 0,
            run: Vec::new(),
        };
        match std::mem::replace(&mut self.state, idle) {
            State::Searching { next, run } => self.search(next, run),
            State::Receiving(rx) => self.receive(rx, events),
        }
    }

    fn search(&mut self, mut at: u64, mut run: Vec<(u64, f64)>) -> bool {
        let step = self.timing.samples(1.0).max(1) as u64;
        let (last_off, last_len) = self.timing.window(PREAMBLE.len() - 1);
        let span = (last_off + last_len) as u64;
        let longest_run = self.timing.samples(SYMBOL_MS) as u64;
        while at + span <= self.end() {
            let score = self.preamble_score(at);
            if score >= SYNC_THRESHOLD {
                run.push((at, score));
            }
            let run_over = score < SYNC_THRESHOLD
                || run
                    .first()
                    .is_some_and(|(first, _)| at - first >= longest_run);
            if run_over && !run.is_empty() {
                self.lock(&run);
                return true;
            }
            at += step;
        }
        self.state = State::Searching { next: at, run };
        false
    }

    /// Share of energy in the expected pair, worst over the preamble's windows.
    fn preamble_score(&self, at: u64) -> f64 {
        let mut worst = f64::INFINITY;
        for (index, coeffs) in self.preamble.iter().enumerate() {
            let (off, len) = self.timing.window(index);
            let Some(window) = self.window(at + off as u64, len) else {
                return 0.0;
            };
            let ms = mean_square(window);
            if ms < SILENCE_FLOOR {
                return 0.0;
            }
            let [a, b] = fractions(window, *coeffs, ms);
            let share = a + b;
            worst = worst.min(share);
            if worst < SYNC_THRESHOLD {
                break;
            }
        }
        worst
    }

    fn lock(&mut self, run: &[(u64, f64)]) {
        let best = run.iter().map(|&(_, s)| s).fold(0.0, f64::max);
        let good: Vec<u64> = run
            .iter()
            .filter(|&&(_, s)| s >= best - SYNC_PLATEAU)
            .map(|&(at, _)| at)
            .collect();
        let start = (good[0] + good[good.len() - 1]) / 2;
        let reference = (0..PREAMBLE.len())
            .filter_map(|i| {
                let (off, len) = self.timing.window(i);
                self.window(start + off as u64, len).map(mean_square)
            })
            .sum::<f64>()
            / PREAMBLE.len() as f64;
        self.state = State::Receiving(Reception {
            start,
            reference,
            nibbles: Vec::new(),
            total: None,
        });
    }

    fn receive(&mut self, mut rx: Reception, events: &mut Vec<DecodeEvent>) -> bool {
        let n = rx.nibbles.len();
        let index = PREAMBLE.len() + n;
        let (off, len) = self.timing.window(index);
        let Some(window) = self.window(rx.start + off as u64, len) else {
            self.state = State::Receiving(rx);
            return false;
        };
        let ms = mean_square(window);
        let symbol = if ms < rx.reference * LOST_SIGNAL_RATIO || ms < SILENCE_FLOOR {
            Err(DecodeFault::LostSignal(n))
        } else {
            read_symbol(fractions(window, self.data, ms)).ok_or(DecodeFault::Garbled(n))
        };
        let start = rx.start;
        let value = match symbol {
            Ok(value) => value,
            Err(fault) => {
                // Resume a symbol early: a new utterance may be what cut this one off.
                // On the first data symbol the lock itself is suspect: a preamble cut
                // short and another right behind it can look like one preamble ending
                // inside the second, so the search resumes just past the lock.
                let back = if n == 0 {
                    self.timing.samples(1.0).max(1) as u64
                } else {
                    self.timing.symbol_start(index - 1) as u64
                };
                let stop = start + (off + len) as u64;
                self.fail(events, fault, start, stop, start + back);
                return true;
            }
        };
        rx.nibbles.push(value);
        if rx.nibbles.len() == 2 {
            let len = usize::from((rx.nibbles[0] << 4) | rx.nibbles[1]);
            rx.total = Some(frame::data_symbols(len));
        }
        if Some(rx.nibbles.len()) != rx.total {
            self.state = State::Receiving(rx);
            return true;
        }
        let end = start + self.timing.utterance_len(PREAMBLE.len() + rx.nibbles.len()) as u64;
        match frame::parse(&rx.nibbles) {
            Ok(text) => {
                events.push(DecodeEvent::Utterance(Utterance {
                    text,
                    start_sample: start,
                    end_sample: end,
                }));
                self.state = State::Searching {
                    next: end,
                    run: Vec::new(),
                };
            }
            Err(fault) => {
                let fault = match fault {
                    FrameFault::BadCrc => DecodeFault::BadCrc,
                    FrameFault::NotAscii => DecodeFault::NotAscii,
                };
                self.fail(events, fault, start, end, end);
            }
        }
        true
    }

    fn fail(
        &mut self,
        events: &mut Vec<DecodeEvent>,
        fault: DecodeFault,
        start: u64,
        end: u64,
        resume: u64,
    ) {
        events.push(DecodeEvent::Error(DecodeError {
            fault,
            start_sample: start,
            end_sample: end,
        }));
        self.state = State::Searching {
            next: resume.max(start + 1),
            run: Vec::new(),
        };
    }

    /// Drops samples no future step can look at.
    fn trim(&mut self) {
        let keep_from = match &self.state {
            State::Searching { next, run } => run.first().map_or(*next, |&(at, _)| at.min(*next)),
            State::Receiving(rx) => rx.start,
        };
        let drop = keep_from.saturating_sub(self.buf_start);
        // Shifting the buffer costs its length: only do it when a good part is dead.
        if drop as usize > self.buf.len() / 2 && drop > 4096 {
            let drop = (drop as usize).min(self.buf.len());
            self.buf.drain(..drop);
            self.buf_start += drop as u64;
        }
    }
}

/// Reads a data symbol from the energy shares of the four low then four high tones: the
/// strongest tone of each group, if both clearly win.
fn read_symbol(all: [f64; 8]) -> Option<u8> {
    let pick = |shares: &[f64]| -> Option<(usize, f64)> {
        let (best, share) = shares
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        let runner_up = shares
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != best)
            .map(|(_, &s)| s)
            .fold(0.0, f64::max);
        (runner_up < share * RUNNER_UP_MAX).then_some((best, share))
    };
    let (low, low_share) = pick(&all[..4])?;
    let (high, high_share) = pick(&all[4..])?;
    if low_share + high_share < SYMBOL_MIN_SHARE {
        return None;
    }
    let value = ((low << 2) | high) as u8;
    debug_assert_eq!(
        Symbol::Data(value).tones(),
        [LOW_TONES[low], HIGH_TONES[high]]
    );
    Some(value)
}
