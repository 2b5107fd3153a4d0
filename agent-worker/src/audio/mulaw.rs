//! G.711 mu-law, the phone line's 8-bit companding, by table.
//!
//! Decoding is a 256-entry table; encoding a 16 K-entry table indexed by the top 14 bits
//! (mu-law's input resolution), so neither direction branches per sample. Decoding then
//! re-encoding is exact, which is why the pipeline can keep mu-law as its own format.

use std::sync::LazyLock;

const BIAS: i32 = 0x84;
/// The largest 14-bit magnitude encoded before clipping.
const CLIP: i32 = 8_159;

static DECODE: LazyLock<[i16; 256]> = LazyLock::new(|| {
    let mut table = [0i16; 256];
    for (byte, slot) in table.iter_mut().enumerate() {
        *slot = decode_slow(byte as u8);
    }
    table
});

static ENCODE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    (0..1u32 << 14)
        .map(|index| encode_slow(((index << 2) as u16) as i16))
        .collect()
});

fn decode_slow(byte: u8) -> i16 {
    let byte = !byte;
    let sign = byte & 0x80;
    let exponent = i32::from((byte >> 4) & 0x07);
    let mantissa = i32::from(byte & 0x0f);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

/// The ITU reference encoder (as in Sun's g711.c): 14-bit input, bias 33, segment search.
fn encode_slow(sample: i16) -> u8 {
    const SEGMENT_ENDS: [i32; 8] = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
    let mut value = i32::from(sample) >> 2;
    let mask = if value < 0 {
        value = -value;
        0x7f
    } else {
        0xff
    };
    let value = value.min(CLIP) + (BIAS >> 2);
    match SEGMENT_ENDS.iter().position(|&end| value <= end) {
        Some(segment) => {
            let byte = ((segment as i32) << 4) | ((value >> (segment + 1)) & 0x0f);
            (byte ^ mask) as u8
        }
        None => (0x7f ^ mask) as u8,
    }
}

/// One sample to mu-law.
#[inline]
pub fn encode_sample(sample: i16) -> u8 {
    ENCODE[usize::from((sample as u16) >> 2)]
}

/// One mu-law byte to a sample.
#[inline]
pub fn decode_sample(byte: u8) -> i16 {
    DECODE[usize::from(byte)]
}

/// Samples to mu-law.
pub fn encode(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| encode_sample(s)).collect()
}

/// Mu-law to samples, appended to `out` (so per-frame callers reuse one buffer).
pub fn decode_into(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| decode_sample(b)));
}

/// Mu-law to samples.
pub fn decode(bytes: &[u8]) -> Vec<i16> {
    let mut out = Vec::with_capacity(bytes.len());
    decode_into(bytes, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_then_encoding_every_byte_gives_it_back() {
        for byte in 0..=255u8 {
            let again = encode_sample(decode_sample(byte));
            // 0x7f and 0xff both mean zero; zero encodes as 0xff.
            if byte == 0x7f {
                assert_eq!(again, 0xff);
            } else {
                assert_eq!(again, byte, "byte {byte:#04x}");
            }
        }
    }

    #[test]
    fn the_table_agrees_with_the_reference_formula_and_known_values() {
        for sample in i16::MIN..=i16::MAX {
            assert_eq!(
                encode_sample(sample),
                encode_slow(sample),
                "sample {sample}"
            );
        }
        assert_eq!(encode_sample(0), 0xff);
        assert_eq!(decode_sample(0x00), -32_124);
        assert_eq!(decode_sample(0x80), 32_124);
        assert_eq!(encode_sample(i16::MAX), 0x80);
        assert_eq!(encode_sample(i16::MIN), 0x00);
    }

    #[test]
    fn quantisation_error_stays_within_the_segment_step() {
        for sample in (-32_000i16..32_000).step_by(13) {
            let back = decode_sample(encode_sample(sample));
            // Half a segment step plus the 2 bits the 14-bit input drops.
            let step = (i32::from(sample).abs() / 16).max(16);
            assert!(
                (i32::from(back) - i32::from(sample)).abs() <= step,
                "{sample} -> {back}"
            );
        }
    }
}
