//! Windowed-sinc sample-rate conversion for whole buffers.
//!
//! Good enough to stand in for what a real pipeline does (8 kHz phone audio up to 48 kHz
//! for Opus and back) when checking that the test speech code survives it. Not meant to be
//! fast: it evaluates the kernel per tap.

use std::f64::consts::PI;

/// Zero crossings of the sinc kernel kept on each side (at the lower of the two rates).
const HALF_TAPS: f64 = 16.0;
/// Cut-off as a fraction of the lower Nyquist frequency: a little below it so the
/// transition band does not fold back.
const CUTOFF: f64 = 0.92;

/// Converts `input` sampled at `from` Hz to `to` Hz.
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let step = f64::from(from) / f64::from(to);
    // Below 1 when downsampling: the filter must then remove what the new rate cannot hold.
    let fc = CUTOFF * (f64::from(to) / f64::from(from)).min(1.0);
    let reach = HALF_TAPS / fc;
    let out_len = (input.len() as f64 / step).floor() as usize;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len {
        let t = n as f64 * step;
        let first = (t - reach).ceil().max(0.0) as usize;
        let last = ((t + reach).floor() as usize).min(input.len() - 1);
        let mut acc = 0.0;
        for (k, &x) in input.iter().enumerate().take(last + 1).skip(first) {
            let tau = t - k as f64;
            acc += f64::from(x) * kernel(tau, fc, reach);
        }
        out.push(acc.round().clamp(-32768.0, 32767.0) as i16);
    }
    out
}

/// Low-pass sinc at `fc` (fraction of the input Nyquist) under a Hann window of `reach`.
fn kernel(tau: f64, fc: f64, reach: f64) -> f64 {
    if tau.abs() >= reach {
        return 0.0;
    }
    let x = fc * tau;
    let sinc = if x.abs() < 1e-9 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    };
    let window = 0.5 * (1.0 + (PI * tau / reach).cos());
    fc * sinc * window
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, len: usize) -> Vec<i16> {
        (0..len)
            .map(|n| (8000.0 * (2.0 * PI * freq * n as f64 / f64::from(rate)).sin()) as i16)
            .collect()
    }

    #[test]
    fn a_tone_keeps_its_shape_through_8k_48k_8k() {
        let original = tone(1000.0, 8000, 800);
        let back = resample(&resample(&original, 8000, 48000), 48000, 8000);
        assert_eq!(back.len(), original.len());
        // Ignore the edges, where the kernel runs out of input.
        let worst = original[40..760]
            .iter()
            .zip(&back[40..760])
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap_or(0);
        assert!(worst < 200, "worst sample error {worst}");
    }

    #[test]
    fn downsampling_removes_what_the_new_rate_cannot_hold() {
        // 6 kHz cannot exist at 8 kHz: it must be filtered out, not folded to 2 kHz.
        let high = tone(6000.0, 48000, 4800);
        let down = resample(&high, 48000, 8000);
        let peak = down[50..750]
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap_or(0);
        assert!(peak < 400, "aliased peak {peak}");
    }
}
