//! Behaviour of the speech code through the damage a phone path does to audio.

use super::*;
use crate::audio::{mulaw, resample::resample};
use rand::{rngs::StdRng, Rng, SeedableRng};

const TEXT: &str = "hello token-4821";

/// Decodes `audio` fed in uneven chunks, as a network would deliver it.
fn decode_all(audio: &[i16], rate: u32) -> Vec<DecodeEvent> {
    let mut decoder = Decoder::new(rate);
    let mut events = Vec::new();
    let sizes = [1usize, 7, 160, 333, 20, 4096];
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= audio.len() {
            break;
        }
        let end = (at + size).min(audio.len());
        events.extend(decoder.push(&audio[at..end]));
        at = end;
    }
    events.extend(decoder.finish());
    events
}

fn texts(events: &[DecodeEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            DecodeEvent::Utterance(u) => Some(u.text.clone()),
            DecodeEvent::Error(_) => None,
        })
        .collect()
}

fn errors(events: &[DecodeEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, DecodeEvent::Error(_)))
        .count()
}

/// `ms` of silence, then the utterance, then `ms` of silence.
fn padded(text: &str, rate: u32, ms: usize) -> Vec<i16> {
    let pad = vec![0i16; ms * rate as usize / 1000];
    let mut audio = pad.clone();
    audio.extend(encode(text, rate).expect("encodable"));
    audio.extend(pad);
    audio
}

fn add_noise(audio: &mut [i16], snr_db: f64, seed: u64) {
    let signal: f64 = audio.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
        / audio.iter().filter(|&&s| s != 0).count().max(1) as f64;
    let sigma = (signal / 10f64.powf(snr_db / 10.0)).sqrt();
    let mut rng = StdRng::seed_from_u64(seed);
    for s in audio.iter_mut() {
        // Box-Muller: Gaussian noise, like a line's hiss.
        let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
        let n = sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        *s = (f64::from(*s) + n).round().clamp(-32768.0, 32767.0) as i16;
    }
}

#[test]
fn clean_audio_decodes_to_the_exact_text_at_several_rates() {
    for rate in [8000, 16000, 44100, 48000] {
        let audio = padded(TEXT, rate, 100);
        let events = decode_all(&audio, rate);
        assert_eq!(texts(&events), vec![TEXT.to_string()], "rate {rate}");
        assert_eq!(errors(&events), 0);
    }
}

#[test]
fn the_reported_span_matches_where_the_utterance_is() {
    let rate = 8000;
    let audio = padded(TEXT, rate, 250);
    let events = decode_all(&audio, rate);
    let DecodeEvent::Utterance(u) = &events[0] else {
        panic!("expected an utterance, got {events:?}");
    };
    assert!(
        (u.start_sample as i64 - 2000).abs() <= 16,
        "start {}",
        u.start_sample
    );
    let len = utterance_samples(TEXT.len(), rate) as i64;
    assert!(
        (u.end_sample as i64 - 2000 - len).abs() <= 16,
        "end {}",
        u.end_sample
    );
}

#[test]
fn mu_law_does_not_change_what_is_decoded() {
    let audio = padded(TEXT, 8000, 100);
    let through = mulaw::decode(&mulaw::encode(&audio));
    assert_eq!(texts(&decode_all(&through, 8000)), vec![TEXT.to_string()]);
}

#[test]
fn resampling_up_to_48k_and_back_does_not_change_what_is_decoded() {
    let audio = padded(TEXT, 8000, 100);
    let up = resample(&audio, 8000, 48000);
    assert_eq!(texts(&decode_all(&up, 48000)), vec![TEXT.to_string()]);
    let back = resample(&up, 48000, 8000);
    let through = mulaw::decode(&mulaw::encode(&back));
    assert_eq!(texts(&decode_all(&through, 8000)), vec![TEXT.to_string()]);
}

#[test]
fn gain_changes_of_ten_db_either_way_are_tolerated() {
    let audio = padded(TEXT, 8000, 100);
    for gain in [0.316, 3.16] {
        let scaled: Vec<i16> = audio
            .iter()
            .map(|&s| (f64::from(s) * gain).round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        assert_eq!(
            texts(&decode_all(&scaled, 8000)),
            vec![TEXT.to_string()],
            "gain {gain}"
        );
    }
}

#[test]
fn noise_at_20_db_snr_with_an_odd_offset_still_decodes() {
    for seed in 0..5 {
        let mut audio = vec![0i16; 37 + seed as usize * 13];
        audio.extend(padded(TEXT, 8000, 120));
        add_noise(&mut audio, 20.0, seed);
        let through = mulaw::decode(&mulaw::encode(&audio));
        let events = decode_all(&through, 8000);
        assert_eq!(
            texts(&events),
            vec![TEXT.to_string()],
            "seed {seed}: {events:?}"
        );
    }
}

#[test]
fn silence_and_noise_alone_produce_no_events() {
    let mut audio = vec![0i16; 8000 * 3];
    assert!(decode_all(&audio, 8000).is_empty());
    // Noise at the level a speech-code utterance would have.
    audio.iter_mut().for_each(|s| *s = 3000);
    add_noise(&mut audio, 0.0, 9);
    assert!(decode_all(&audio, 8000).is_empty());
}

#[test]
fn a_dropped_20ms_chunk_is_reported_as_an_error_not_other_text() {
    let audio = padded(TEXT, 8000, 100);
    let utterance_chunks = utterance_samples(TEXT.len(), 8000) / 160;
    for chunk in 1..utterance_chunks {
        let at = 800 + chunk * 160;
        let mut damaged = audio.clone();
        damaged.drain(at..at + 160);
        let events = decode_all(&damaged, 8000);
        assert!(
            texts(&events).is_empty(),
            "chunk {chunk} dropped: {events:?}"
        );
        // A damaged preamble is not recognised at all (nothing was heard); damage after
        // it must be reported.
        let after_preamble = at >= 800 + 960;
        let expected = usize::from(after_preamble);
        assert_eq!(
            errors(&events),
            expected,
            "chunk {chunk} dropped: {events:?}"
        );
    }
}

#[test]
fn swapped_or_scrambled_chunks_never_decode_to_other_text() {
    let audio = padded(TEXT, 8000, 100);
    let utterance_chunks = utterance_samples(TEXT.len(), 8000) / 160;
    let mut rng = StdRng::seed_from_u64(7);
    let mut caught = 0;
    for chunk in 1..utterance_chunks - 1 {
        let at = 800 + chunk * 160;
        let mut swapped = audio.clone();
        let (a, b) = swapped[at..at + 320].split_at_mut(160);
        a.swap_with_slice(b);
        let mut scrambled = audio.clone();
        scrambled[at..at + 160]
            .iter_mut()
            .for_each(|s| *s = rng.gen_range(-6000..6000));
        for damaged in [swapped, scrambled] {
            let events = decode_all(&damaged, 8000);
            let got = texts(&events);
            assert!(got.is_empty() || got == [TEXT], "chunk {chunk}: {got:?}");
            caught += errors(&events);
        }
    }
    // Swapping two chunks inside a run of equal symbols changes nothing audible: only
    // most damage has to be caught, none may turn into other text.
    assert!(caught >= utterance_chunks, "only {caught} errors");
}

#[test]
fn audio_cut_off_mid_utterance_is_reported_as_an_error() {
    let audio = padded(TEXT, 8000, 100);
    let cut = 800 + utterance_samples(TEXT.len(), 8000) / 2;
    let mut truncated = audio[..cut].to_vec();
    let events = decode_all(&truncated, 8000);
    assert!(
        texts(&events).is_empty() && errors(&events) == 1,
        "{events:?}"
    );
    // The same, followed by silence rather than the end of input.
    truncated.extend(vec![0i16; 4000]);
    let events = decode_all(&truncated, 8000);
    assert!(matches!(
        events.as_slice(),
        [DecodeEvent::Error(DecodeError {
            fault: DecodeFault::LostSignal(_),
            ..
        })]
    ));
}

#[test]
fn two_utterances_with_a_gap_decode_as_two_in_order() {
    let mut audio = padded("first one", 8000, 50);
    audio.extend(padded("second-2", 8000, 300));
    let events = decode_all(&audio, 8000);
    assert_eq!(
        texts(&events),
        vec!["first one".to_string(), "second-2".to_string()]
    );
}

#[test]
fn back_to_back_utterances_without_a_gap_decode_as_two() {
    let mut audio = encode("a", 8000).expect("ascii");
    audio.extend(encode("b", 8000).expect("ascii"));
    audio.extend(vec![0i16; 800]);
    assert_eq!(
        texts(&decode_all(&audio, 8000)),
        vec!["a".to_string(), "b".to_string()]
    );
}

#[test]
fn text_that_cannot_be_carried_is_refused() {
    assert_eq!(encode("héllo", 8000), Err(EncodeError::NotAscii));
    assert_eq!(
        encode(&"x".repeat(256), 8000),
        Err(EncodeError::TooLong(256))
    );
    assert_eq!(encode("x", 4000), Err(EncodeError::RateTooLow(4000)));
}

#[test]
fn webrtc_vad_hears_the_code_as_speech_and_silence_as_silence() {
    use webrtc_vad::{SampleRate, Vad, VadMode};
    let voiced = |audio: &[i16]| {
        let mut vad = Vad::new_with_rate_and_mode(SampleRate::Rate8kHz, VadMode::Aggressive);
        let frames: Vec<bool> = audio
            .chunks_exact(160)
            .map(|f| vad.is_voice_segment(f).unwrap_or(false))
            .collect();
        frames.iter().filter(|&&v| v).count() as f64 / frames.len() as f64
    };
    let mut speech = Vec::new();
    for text in ["hello token-4821", "yes I can talk now", "goodbye"] {
        speech.extend(encode(text, 8000).expect("ascii"));
    }
    let share = voiced(&mulaw::decode(&mulaw::encode(&speech)));
    assert!(share >= 0.8, "only {:.0}% of frames voiced", share * 100.0);
    assert_eq!(voiced(&vec![0i16; 16000]), 0.0);
}

/// Needs libopus (`apt-get install libopus-dev pkg-config`), as the agent worker does: the
/// `opus` feature is on by default, so `./dev test` runs it.
#[cfg(feature = "opus")]
#[test]
fn opus_at_48k_in_20ms_frames_does_not_change_what_is_decoded() {
    use opus::{Application, Channels, Decoder as OpusDecoder, Encoder as OpusEncoder};
    let audio = padded(TEXT, 8000, 200);
    let wide = resample(&audio, 8000, 48000);
    for bitrate in [12_000, 16_000, 32_000] {
        let mut encoder =
            OpusEncoder::new(48000, Channels::Mono, Application::Voip).expect("encoder");
        encoder
            .set_bitrate(opus::Bitrate::Bits(bitrate))
            .expect("bitrate");
        let mut decoder = OpusDecoder::new(48000, Channels::Mono).expect("decoder");
        let mut out = Vec::with_capacity(wide.len());
        for frame in wide.chunks_exact(960) {
            let packet = encoder.encode_vec(frame, 4000).expect("encode");
            let mut pcm = vec![0i16; 960];
            let n = decoder.decode(&packet, &mut pcm, false).expect("decode");
            out.extend_from_slice(&pcm[..n]);
        }
        let narrow = mulaw::decode(&mulaw::encode(&resample(&out, 48000, 8000)));
        let events = decode_all(&narrow, 8000);
        assert_eq!(
            texts(&events),
            vec![TEXT.to_string()],
            "{bitrate} bit/s: {events:?}"
        );
    }
}

/// A barge-in or a supervisor's line cuts the agent anywhere, and the next utterance can
/// follow at once: the listen stream once lost a line that came 80 ms into the cut one's
/// preamble. The decoder locked on the cut preamble, failed on its first data symbol and
/// resumed past the start of the real one.
#[test]
fn an_utterance_cut_anywhere_and_followed_at_once_does_not_hide_the_next() {
    for rate in [8000u32, 16_000] {
        let first = encode("What else can I help you with?", rate).expect("ascii");
        let second = encode("a supervisor line token-44", rate).expect("ascii");
        let per_ms = rate as usize / 1000;
        for cut_ms in (0..400).step_by(5) {
            let mut audio = vec![0i16; 50 * per_ms];
            audio.extend(&first[..cut_ms * per_ms]);
            audio.extend(&second);
            audio.extend(vec![0i16; 100 * per_ms]);
            let heard = texts(&decode_all(&audio, rate));
            assert_eq!(
                heard,
                vec!["a supervisor line token-44".to_string()],
                "cut at {cut_ms} ms, {rate} Hz"
            );
        }
    }
}
