//! The VAD on synthetic phone audio, and the detector's hysteresis on scripted verdicts.

use super::*;
use crate::audio::{mulaw, FRAME_SAMPLES, SAMPLE_RATE};

const SILENCE: u8 = 0xff;

/// A small deterministic noise source (xorshift), so the tests need no RNG crate.
struct Noise(u32);

impl Noise {
    fn sample(&mut self, amplitude: i32) -> i16 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        ((self.0 % (2 * amplitude as u32 + 1)) as i32 - amplitude) as i16
    }
}

/// `ms` of a voiced sound starting at sample `offset`: harmonics of 150 Hz falling off as
/// 1/k, under a 4 Hz syllable envelope (a smooth rise and fall every 250 ms), with a
/// little line noise, as mu-law frames.
fn voiced(ms: u64, offset: usize, noise: &mut Noise) -> Vec<Vec<u8>> {
    let rate = f64::from(SAMPLE_RATE);
    let samples: Vec<i16> = (offset..offset + (ms as usize * 8))
        .map(|n| {
            let t = n as f64 / rate;
            let tone: f64 = (1..=12)
                .map(|k| (2.0 * std::f64::consts::PI * 150.0 * k as f64 * t).sin() / k as f64)
                .sum();
            let syllable = 0.25 + 0.75 * (std::f64::consts::PI * 4.0 * t).sin().abs();
            (tone * syllable * 5_000.0) as i16 + noise.sample(30)
        })
        .collect();
    frames(&samples)
}

fn noise(ms: u64, amplitude: i32, noise: &mut Noise) -> Vec<Vec<u8>> {
    let samples: Vec<i16> = (0..ms as usize * 8)
        .map(|_| noise.sample(amplitude))
        .collect();
    frames(&samples)
}

fn frames(samples: &[i16]) -> Vec<Vec<u8>> {
    samples.chunks(FRAME_SAMPLES).map(mulaw::encode).collect()
}

fn speech_fraction(mode: VadMode, frames: &[Vec<u8>]) -> f64 {
    let mut vad = Vad::with_warmup(mode, 0);
    let speech = frames
        .iter()
        .filter(|frame| vad.is_speech(frame).unwrap())
        .count();
    speech as f64 / frames.len() as f64
}

#[test]
fn silence_and_low_noise_are_not_speech() {
    let silence = vec![vec![SILENCE; FRAME_SAMPLES]; 100];
    for mode in [
        VadMode::Quality,
        VadMode::Aggressive,
        VadMode::VeryAggressive,
    ] {
        assert_eq!(speech_fraction(mode, &silence), 0.0, "{mode:?}");
        for amplitude in [5, 40, 300] {
            let hiss = noise(2_000, amplitude, &mut Noise(7));
            let mut vad = Vad::new(mode);
            // Leading digital silence does not use up the warm-up.
            for frame in silence.iter().chain(&hiss) {
                assert_eq!(vad.is_speech(frame), Ok(false), "{mode:?} {amplitude}");
            }
        }
        let hiss = noise(2_000, 40, &mut Noise(7));
        let mut detector = SpeechDetector::new(&VadConfig {
            mode,
            ..VadConfig::default()
        });
        for frame in silence.iter().chain(&hiss) {
            assert_eq!(detector.push(frame), Ok(None), "{mode:?}");
        }
    }
}

#[test]
fn a_voiced_signal_is_speech() {
    let voice = voiced(2_000, 0, &mut Noise(11));
    for mode in [
        VadMode::Quality,
        VadMode::Aggressive,
        VadMode::VeryAggressive,
    ] {
        let fraction = speech_fraction(mode, &voice);
        assert!(fraction > 0.9, "{mode:?}: only {fraction} of frames");
    }
}

#[test]
fn frames_of_the_wrong_length_are_refused() {
    let mut vad = Vad::new(VadMode::default());
    assert_eq!(vad.is_speech(&[]), Err(FrameLengthError(0)));
    assert_eq!(vad.is_speech(&[SILENCE; 80]), Err(FrameLengthError(80)));
    assert_eq!(vad.is_speech_pcm(&[0; 161]), Err(FrameLengthError(161)));
    let mut detector = SpeechDetector::new(&VadConfig::default());
    assert!(detector.push(&[SILENCE; 10]).is_err());
    assert_eq!(
        detector.now_ms(),
        0,
        "a refused frame does not move the clock"
    );
}

#[test]
fn speech_starts_near_its_onset_and_ends_after_the_configured_silence() {
    let mut source = Noise(3);
    let mut audio = noise(600, 30, &mut source);
    audio.extend(voiced(1_200, 600 * 8, &mut source));
    audio.extend(noise(1_200, 30, &mut source));
    let mut detector = SpeechDetector::new(&VadConfig::default());
    let mut events = Vec::new();
    for frame in &audio {
        if let Some(event) = detector.push(frame).unwrap() {
            events.push((event, detector.now_ms()));
        }
    }
    let [(SpeechEvent::SpeechStart { at_ms: start }, seen_start), (SpeechEvent::SpeechEnd { at_ms: end }, seen_end)] =
        events[..]
    else {
        panic!("expected one start and one end, got {events:?}");
    };
    // The onset is back-dated to the first speech frame, and noticed within the window.
    assert!((600..=640).contains(&start), "start at {start}");
    assert!(seen_start - start <= 80, "start noticed at {seen_start}");
    // libfvad's own hangover may hold the verdict a few frames past the voice.
    assert!(
        (1_800 + 500..=1_800 + 500 + 160).contains(&end),
        "end at {end}"
    );
    assert_eq!(end, seen_end);
    assert!(!detector.is_speaking());
    assert!(!detector.last_frame_is_speech());
}

/// A detector with these thresholds (onset, onset window, end silence; all in ms).
fn scripted(onset_ms: u64, window_ms: u64, end_ms: u64) -> SpeechDetector {
    SpeechDetector::new(&VadConfig {
        mode: VadMode::Aggressive,
        onset_speech_ms: onset_ms,
        onset_window_ms: window_ms,
        end_silence_ms: end_ms,
        warmup_ms: 0,
    })
}

/// Feeds raw `verdicts` ("S" speech, "." not), bypassing libfvad; returns the events.
fn feed(detector: &mut SpeechDetector, verdicts: &str) -> Vec<SpeechEvent> {
    verdicts
        .chars()
        .filter_map(|c| detector.advance(c == 'S'))
        .collect()
}

#[test]
fn isolated_speech_frames_do_not_start_speech() {
    // 60 ms of the last 80 ms: three of four frames.
    let mut detector = scripted(60, 80, 500);
    assert_eq!(feed(&mut detector, "..S...S.S...SS..S.S..S"), vec![]);
    assert!(!detector.is_speaking());
    assert!(detector.last_frame_is_speech(), "the raw verdict");
    // The third speech frame within four starts speech, dated to the first of them.
    assert_eq!(
        feed(&mut detector, "S.S"),
        vec![SpeechEvent::SpeechStart { at_ms: 21 * 20 }]
    );
    assert!(detector.is_speaking());
    assert!(detector.last_frame_is_speech());
}

#[test]
fn pauses_shorter_than_the_end_silence_do_not_end_speech() {
    let mut detector = scripted(60, 80, 500);
    assert_eq!(
        feed(&mut detector, "SSS"),
        vec![SpeechEvent::SpeechStart { at_ms: 0 }]
    );
    // 24 frames (480 ms) of pause, then speech again: still one utterance.
    let pause = ".".repeat(24);
    assert_eq!(feed(&mut detector, &format!("{pause}S{pause}S")), vec![]);
    assert!(detector.is_speaking());
    // The 25th frame of silence ends it, at the end of that frame.
    assert_eq!(feed(&mut detector, &pause), vec![]);
    assert_eq!(
        feed(&mut detector, "."),
        vec![SpeechEvent::SpeechEnd {
            at_ms: detector.now_ms()
        }]
    );
    assert_eq!(detector.now_ms(), (3 + 25 + 25 + 25) * 20);
    assert!(!detector.is_speaking());
}

#[test]
fn thresholds_follow_the_configuration() {
    // Onset on two consecutive frames (40 of 40 ms), end after 100 ms.
    let mut detector = scripted(40, 40, 100);
    assert_eq!(feed(&mut detector, "S.S."), vec![]);
    assert_eq!(
        feed(&mut detector, "SS"),
        vec![SpeechEvent::SpeechStart { at_ms: 4 * 20 }]
    );
    assert_eq!(
        feed(&mut detector, "....."),
        vec![SpeechEvent::SpeechEnd { at_ms: 11 * 20 }]
    );
    assert_eq!(detector.end_silence_ms(), 100);
    // Speech before an end does not count towards the next onset.
    assert_eq!(feed(&mut detector, "S"), vec![]);
    // Durations round up to whole frames; an onset longer than its window is clamped.
    let rounded = scripted(50, 30, 1);
    assert_eq!(rounded.end_silence_ms(), 20);
    let mut clamped = scripted(200, 60, 100);
    assert_eq!(
        feed(&mut clamped, "SSS"),
        vec![SpeechEvent::SpeechStart { at_ms: 0 }]
    );
}

#[test]
fn the_detector_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let detector = SpeechDetector::new(&VadConfig::default());
    assert_send(&detector);
    let mut detector = std::thread::spawn(move || detector).join().unwrap();
    assert_eq!(detector.push(&[SILENCE; FRAME_SAMPLES]), Ok(None));
}

/// The per-frame cost, to check against the budget (500 calls per core is 25,000 frames
/// per second, 40 us per frame for everything). Run in release mode:
/// `cargo test -p agent-worker --release --lib vad_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement; run in release mode"]
fn vad_cost_per_frame() {
    let mut source = Noise(5);
    let mut audio = voiced(5_000, 0, &mut source);
    audio.extend(noise(5_000, 200, &mut source));
    let mut detector = SpeechDetector::new(&VadConfig::default());
    let rounds = 200;
    let started = std::time::Instant::now();
    let mut events = 0;
    for _ in 0..rounds {
        for frame in &audio {
            events += usize::from(detector.push(frame).unwrap().is_some());
        }
    }
    let frames = (rounds * audio.len()) as f64;
    let per_frame = started.elapsed().as_secs_f64() / frames;
    println!(
        "VAD + speech detector: {:.2} us per 20 ms frame over {frames} frames ({events} events); \
         {:.1}% of one core at 25,000 frames/s",
        per_frame * 1e6,
        per_frame * 25_000.0 * 100.0
    );
}

#[test]
fn without_the_warm_up_libfvad_calls_the_first_frames_with_signal_speech() {
    // Why the warm-up exists: the same hiss, judged raw after leading silence.
    let silence = vec![vec![SILENCE; FRAME_SAMPLES]; 10];
    let hiss = noise(400, 40, &mut Noise(7));
    let mut raw = Vad::with_warmup(VadMode::Aggressive, 0);
    let verdicts: Vec<bool> = silence
        .iter()
        .chain(&hiss)
        .map(|f| raw.is_speech(f).unwrap())
        .collect();
    assert!(!verdicts[..10].contains(&true));
    assert!(verdicts[10..].contains(&true));
    assert!(!verdicts[10 + 8..].contains(&true));
}
