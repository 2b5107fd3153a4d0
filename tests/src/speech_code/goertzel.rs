//! Tone measurement over one analysis window.
//!
//! Everything is a fraction of the window's energy, so the decision does not depend on
//! the level: a +/-10 dB gain change leaves every fraction as it was.

/// Power of `freq` in `window` (generalised Goertzel: exact frequency, no bin rounding).
fn tone_power(window: &[f32], freq: f64, rate: u32) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in window {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
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

/// Share of the window's energy at `freq`: 1.0 for a pure sine at that frequency, 0.5 for
/// each tone of an equal-level pair, near 0 for noise.
pub(super) fn fraction(window: &[f32], freq: f64, rate: u32, mean_square: f64) -> f64 {
    let n = window.len() as f64;
    if mean_square <= 0.0 || n == 0.0 {
        return 0.0;
    }
    // A sine of amplitude A gives power (A n / 2)^2 and mean square A^2 / 2.
    tone_power(window, freq, rate) / (n * n * mean_square / 2.0)
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
        assert!((fraction(&window, 990.0, rate, ms) - 1.0).abs() < 0.05);
        assert!(fraction(&window, 1230.0, rate, ms) < 0.05);
    }
}
