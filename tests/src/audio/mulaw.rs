//! G.711 mu-law, the 8-bit log codec Twilio Media Streams carry (`audio/x-mulaw`, 8 kHz).
//!
//! Written from the ITU-T G.711 table-free formulation (bias 0x84, clip 32635) rather than
//! borrowed from the product, so a bug in one is not silently mirrored in the other.

/// Added before taking the segment so that the smallest segment has the same step size.
const BIAS: i32 = 0x84;
/// Largest magnitude that still fits the top segment once the bias is added.
const CLIP: i32 = 32635;

/// The mu-law byte a silent (zero) sample encodes to: what a quiet phone line carries.
pub const SILENCE: u8 = 0xFF;

/// Encodes one 16-bit linear sample.
pub fn encode_sample(sample: i16) -> u8 {
    let mut magnitude = i32::from(sample);
    let sign = if magnitude < 0 {
        magnitude = -magnitude;
        0x80
    } else {
        0
    };
    magnitude = magnitude.min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && magnitude & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    // Bytes are stored inverted so that an idle line (all ones) means silence.
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decodes one mu-law byte to a 16-bit linear sample.
pub fn decode_sample(byte: u8) -> i16 {
    let byte = !byte;
    let exponent = i32::from((byte >> 4) & 0x07);
    let mantissa = i32::from(byte & 0x0F);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    // The largest value is 32124, so the cast cannot overflow.
    if byte & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes a block of linear samples.
pub fn encode(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| encode_sample(s)).collect()
}

/// Decodes a block of mu-law bytes.
pub fn decode(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|&b| decode_sample(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_encodes_to_the_idle_line_byte() {
        assert_eq!(encode_sample(0), SILENCE);
        assert_eq!(decode_sample(SILENCE), 0);
    }

    #[test]
    fn every_byte_survives_a_decode_encode_round_trip() {
        // 0x7F and 0xFF both mean zero; everything else must map back to itself.
        for byte in 0..=255u8 {
            let again = encode_sample(decode_sample(byte));
            if byte == 0x7F {
                assert_eq!(again, SILENCE);
            } else {
                assert_eq!(again, byte, "byte {byte:#04x}");
            }
        }
    }

    #[test]
    fn quantisation_error_stays_within_the_segment_step() {
        for sample in (-32768..=32767).step_by(7) {
            let s = sample as i16;
            let back = i32::from(decode_sample(encode_sample(s)));
            let magnitude = i32::from(s).abs().min(CLIP);
            // Step size doubles per segment: 1/16 of the segment's range is the bound.
            let bound = (magnitude + BIAS) / 16 + 8;
            assert!(
                (back - i32::from(s).clamp(-CLIP, CLIP)).abs() <= bound,
                "{s} -> {back}"
            );
        }
    }

    #[test]
    fn sign_is_preserved() {
        assert!(decode_sample(encode_sample(1000)) > 0);
        assert!(decode_sample(encode_sample(-1000)) < 0);
    }
}
