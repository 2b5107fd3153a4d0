//! Tone measurement over one analysis window.
//!
//! Everything is a fraction of the window's energy, so the decision does not depend on
//! the level: a +/-10 dB gain change leaves every fraction as it was.

/// The Goertzel coefficient of `freq` at `rate`: worked out once per decoder, not once per
/// window (the cosine was a visible share of the harness).
pub(super) fn coefficient(freq: f64, rate: u32) -> f64 {
    2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(rate)).cos()
}

/// Power of each of `K` frequencies in `window` (generalised Goertzel: exact frequency, no
/// bin rounding), given their [`coefficient`]s. The `K` recurrences run side by side in
/// one pass: each is a chain of dependent additions, so one alone leaves the CPU waiting
/// on its latency. Each chain does the same arithmetic in the same order as it would
/// alone, so the powers are bit for bit those of one tone at a time.
fn tone_powers<const K: usize>(window: &[f32], coeffs: [f64; K]) -> [f64; K] {
    let (mut s1, mut s2) = ([0.0f64; K], [0.0f64; K]);
    for &x in window {
        let x = f64::from(x);
        for k in 0..K {
            let s0 = x + coeffs[k] * s1[k] - s2[k];
            s2[k] = s1[k];
            s1[k] = s0;
        }
    }
    std::array::from_fn(|k| s1[k] * s1[k] + s2[k] * s2[k] - coeffs[k] * s1[k] * s2[k])
}

/// Mean square of the window.
pub(super) fn mean_square(window: &[f32]) -> f64 {
    if window.is_empty() {
        return 0.0;
    }
    window
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / window.len() as f64
}

/// Share of the window's energy at each of `K` frequencies (given by their
/// [`coefficient`]s): 1.0 for a pure sine at that frequency, 0.5 for each tone of an
/// equal-level pair, near 0 for noise.
pub(super) fn fractions<const K: usize>(
    window: &[f32],
    coeffs: [f64; K],
    mean_square: f64,
) -> [f64; K] {
    let n = window.len() as f64;
    if mean_square <= 0.0 || n == 0.0 {
        return [0.0; K];
    }
    // A sine of amplitude A gives power (A n / 2)^2 and mean square A^2 / 2.
    tone_powers(window, coeffs).map(|power| power / (n * n * mean_square / 2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pure_tone_holds_all_the_energy_at_its_frequency_only() {
        let rate = 8000;
        let window: Vec<f32> = (0..160)
            .map(|n| (0.3 * (2.0 * std::f64::consts::PI * 990.0 * n as f64 / 8000.0).sin()) as f32)
            .collect();
        let ms = mean_square(&window);
        let [at, off] = fractions(&window, [990.0, 1230.0].map(|f| coefficient(f, rate)), ms);
        assert!((at - 1.0).abs() < 0.05);
        assert!(off < 0.05);
    }

    /// One tone at a time, as the decoder measured before tones shared a pass.
    fn alone(window: &[f32], freq: f64, rate: u32) -> f64 {
        let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(rate)).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in window {
            let s0 = f64::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - coeff * s1 * s2
    }

    #[test]
    fn tones_measured_side_by_side_equal_each_measured_alone_bit_for_bit() {
        let rate = 8000;
        let tones = [570.0, 990.0, 1550.0, 2650.0];
        let window: Vec<f32> = (0..160)
            .map(|n| {
                let t = n as f64 / 8000.0;
                (0.2 * (2.0 * std::f64::consts::PI * 990.0 * t).sin()
                    + 0.1 * (2.0 * std::f64::consts::PI * 2650.0 * t).sin()
                    + 0.01 * ((n * 7919) % 13) as f64) as f32
            })
            .collect();
        let together = tone_powers(&window, tones.map(|f| coefficient(f, rate)));
        for (power, freq) in together.iter().zip(tones) {
            assert_eq!(
                power.to_bits(),
                alone(&window, freq, rate).to_bits(),
                "{freq} Hz"
            );
        }
    }
}
