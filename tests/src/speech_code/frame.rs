//! The bytes of an utterance, `[len][text][crc16 hi][crc16 lo]`, and their nibbles.
//!
//! The length comes first so a streaming decoder knows when the utterance ends; the CRC
//! covers the length too, so a damaged length cannot produce a shorter "valid" text.

/// Longest text one utterance carries (the length is one byte).
pub(super) const MAX_TEXT: usize = 255;

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): detects every burst up to 16 bits and all
/// but 1 in 65,536 longer corruptions.
pub(super) fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The nibbles (high first) of the frame carrying `text`. The caller checks the length.
pub(super) fn nibbles(text: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + 3);
    bytes.push(text.len() as u8);
    bytes.extend_from_slice(text);
    let crc = crc16(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]).collect()
}

/// Number of data symbols in a frame whose text is `len` bytes long.
pub(super) fn data_symbols(len: usize) -> usize {
    2 * (len + 3)
}

/// Why a received frame was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameFault {
    /// The checksum does not match: the audio was damaged or reordered.
    BadCrc,
    /// The checksum matches but a byte is not ASCII: the frame was not made by us.
    NotAscii,
}

/// Checks a complete frame given as nibbles and returns its text.
pub(super) fn parse(nibbles: &[u8]) -> Result<String, FrameFault> {
    let bytes: Vec<u8> = nibbles
        .chunks(2)
        .map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0))
        .collect();
    if bytes.len() < 3 {
        return Err(FrameFault::BadCrc);
    }
    let (body, trailer) = bytes.split_at(bytes.len() - 2);
    let expected = u16::from_be_bytes([trailer[0], trailer[1]]);
    if crc16(body) != expected || usize::from(body[0]) != body.len() - 1 {
        return Err(FrameFault::BadCrc);
    }
    let text = &body[1..];
    if !text.is_ascii() {
        return Err(FrameFault::NotAscii);
    }
    Ok(text.iter().map(|&b| char::from(b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_published_check_value() {
        // The catalogue check value of CRC-16/CCITT-FALSE over "123456789".
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }

    #[test]
    fn a_frame_parses_back_to_its_text() {
        assert_eq!(
            parse(&nibbles(b"hello token-4821")).as_deref(),
            Ok("hello token-4821")
        );
        assert_eq!(parse(&nibbles(b"")).as_deref(), Ok(""));
    }

    #[test]
    fn any_single_nibble_change_is_rejected() {
        let good = nibbles(b"yes please");
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x5;
            assert!(parse(&bad).is_err(), "nibble {i} change went unnoticed");
        }
    }
}
