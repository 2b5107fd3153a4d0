//! The symbol alphabet and the timing of an utterance, shared by the encoder and decoder.
//!
//! Times are fixed in milliseconds and converted per sample rate, so the same code works
//! at 8 kHz (phone), 16 kHz or 48 kHz (Opus) and survives resampling between them.

/// The low tone group (Hz): a symbol value's top two bits pick one of these. Spaced 200+ Hz
/// apart so that a 20 ms analysis window (50 Hz resolution) separates them cleanly.
pub const LOW_TONES: [f64; 4] = [570.0, 770.0, 990.0, 1230.0];
/// The high tone group (Hz): the symbol value's low two bits pick one of these. None is
/// within 50 Hz of a second harmonic of a low tone, so mu-law distortion cannot mimic one.
pub const HIGH_TONES: [f64; 4] = [1550.0, 1870.0, 2230.0, 2650.0];
/// Peak amplitude of each tone as a fraction of full scale: two tones then peak at -10 dBFS,
/// leaving room for a +10 dB gain change without clipping.
pub const TONE_AMPLITUDE: f64 = 0.15;

/// One symbol, ramps included.
pub const SYMBOL_MS: f64 = 30.0;
/// Raised-cosine ramp at each end of a symbol: keeps the spectrum in band (no clicks).
pub const RAMP_MS: f64 = 5.0;
/// Symbols per syllable: 6 x 30 ms + a 40 ms dip gives a 4.5 Hz syllable rate.
pub const SYLLABLE_SYMBOLS: usize = 6;
/// The quiet gap between syllables.
pub const DIP_MS: f64 = 40.0;
/// Gain of each symbol within its syllable: a rise and fall, like a voiced syllable.
pub const SYLLABLE_GAINS: [f64; SYLLABLE_SYMBOLS] = [0.6, 0.85, 1.0, 1.0, 0.85, 0.6];

/// Symbol values are 0..16: a nibble each.
pub const SYMBOLS: usize = 16;

/// The tones a symbol is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symbol {
    /// Data: one low tone and one high tone, carrying a nibble.
    Data(u8),
    /// Sync: the lowest and highest tone of the low group. Data never uses two low tones.
    SyncLow,
    /// Sync: the lowest and highest tone of the high group.
    SyncHigh,
}

impl Symbol {
    /// The two frequencies sounded together.
    pub fn tones(self) -> [f64; 2] {
        match self {
            Symbol::Data(v) => [
                LOW_TONES[usize::from(v >> 2) & 3],
                HIGH_TONES[usize::from(v) & 3],
            ],
            Symbol::SyncLow => [LOW_TONES[0], LOW_TONES[3]],
            Symbol::SyncHigh => [HIGH_TONES[0], HIGH_TONES[3]],
        }
    }
}

/// The preamble every utterance starts with; alternating so that a window straddling two
/// symbols scores low, which pins the sync position.
pub const PREAMBLE: [Symbol; 4] = [
    Symbol::SyncLow,
    Symbol::SyncHigh,
    Symbol::SyncLow,
    Symbol::SyncHigh,
];

/// Sample positions of an utterance's symbols at one sample rate.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Samples per second.
    pub rate: u32,
}

impl Timing {
    /// Lowest rate that still holds the top tone with room for the resampler's roll-off.
    pub const MIN_RATE: u32 = 8000;

    /// Samples in `ms` milliseconds at this rate.
    pub fn samples(&self, ms: f64) -> usize {
        (ms * f64::from(self.rate) / 1000.0).round() as usize
    }

    /// Offset of symbol `index` (preamble included) from the utterance start, in samples.
    pub fn symbol_start(&self, index: usize) -> usize {
        let ms = index as f64 * SYMBOL_MS + (index / SYLLABLE_SYMBOLS) as f64 * DIP_MS;
        self.samples(ms)
    }

    /// Offset and length of the analysis window of symbol `index`: its flat middle.
    pub fn window(&self, index: usize) -> (usize, usize) {
        (
            self.symbol_start(index) + self.samples(RAMP_MS),
            self.samples(SYMBOL_MS - 2.0 * RAMP_MS),
        )
    }

    /// Length of an utterance of `symbols` symbols (preamble included), in samples.
    pub fn utterance_len(&self, symbols: usize) -> usize {
        match symbols {
            0 => 0,
            n => self.symbol_start(n - 1) + self.samples(SYMBOL_MS),
        }
    }

    /// Gain of symbol `index` in its syllable.
    pub fn gain(index: usize) -> f64 {
        SYLLABLE_GAINS[index % SYLLABLE_SYMBOLS]
    }
}
