//! The transcriber's timing rules, on exact sample positions (no sockets).

use super::transcriber::{Options, Output, Results, Transcriber};
use crate::audio::mulaw;
use crate::speech_code::encode;
use rand::{rngs::StdRng, Rng, SeedableRng};

const RATE: u64 = 8000;

fn options() -> Options {
    Options {
        rate: 8000,
        interim_results: true,
        endpointing_ms: Some(300),
        utterance_end_ms: Some(1000),
        vad_events: true,
        silence_gate: true,
    }
}

fn ms(n: u64) -> usize {
    (n * RATE / 1000) as usize
}

/// Line hiss loud enough to keep the silence gate open (peaks near -35 dBFS).
fn hiss(n: usize, rng: &mut StdRng) -> Vec<i16> {
    (0..n).map(|_| rng.gen_range(-600..600)).collect()
}

fn run(opts: Options, audio: &[i16]) -> Vec<Output> {
    let mut t = Transcriber::new(opts);
    let through = mulaw::decode(&mulaw::encode(audio));
    let mut out = Vec::new();
    for frame in through.chunks(160) {
        out.extend(t.push(frame));
    }
    out
}

fn finals(out: &[Output]) -> Vec<&Results> {
    out.iter()
        .filter_map(|o| match o {
            Output::Results(r) if r.is_final => Some(r),
            _ => None,
        })
        .collect()
}

fn text(r: &Results) -> String {
    r.heard
        .iter()
        .map(|h| h.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn speech_started_carries_the_utterances_first_sample_and_comes_before_its_text() {
    let mut audio = vec![0i16; ms(700)];
    audio.extend(encode("hello token-1", 8000).expect("ascii"));
    audio.extend(vec![0i16; ms(500)]);
    let out = run(options(), &audio);
    let Some(Output::SpeechStarted { at }) = out.first() else {
        panic!("{out:?}");
    };
    assert!((*at as i64 - ms(700) as i64).abs() <= 16, "{at}");
    assert!(matches!(&out[1], Output::Results(r) if !r.is_final && text(r) == "hello token-1"));
}

#[test]
fn over_hiss_a_pause_shorter_than_the_endpointing_does_not_end_the_turn() {
    // The second utterance starts 250 ms after the first ends: inside the 300 ms
    // endpointing, but only recognised ~120 ms later. The final must wait for it.
    let mut rng = StdRng::seed_from_u64(3);
    let first = encode("first part", 8000).expect("ascii");
    let mut audio = hiss(ms(400), &mut rng);
    audio.extend(&first);
    audio.extend(hiss(ms(250), &mut rng));
    audio.extend(encode("second-2", 8000).expect("ascii"));
    audio.extend(hiss(ms(1500), &mut rng));
    let out = run(options(), &audio);
    let finals = finals(&out);
    assert_eq!(finals.len(), 1, "{out:?}");
    assert_eq!(text(finals[0]), "first part second-2");
    assert!(finals[0].speech_final);
}

#[test]
fn over_hiss_the_endpoint_still_comes_just_later() {
    let mut rng = StdRng::seed_from_u64(4);
    let utterance = encode("over the hiss", 8000).expect("ascii");
    let mut audio = hiss(ms(300), &mut rng);
    audio.extend(&utterance);
    let end = audio.len() as u64;
    audio.extend(hiss(ms(1500), &mut rng));
    let out = run(options(), &audio);
    let finals = finals(&out);
    assert_eq!(finals.len(), 1, "{out:?}");
    // The final's span ends at the endpoint, wherever in time it was decided.
    let endpoint = finals[0].end;
    assert!(
        (endpoint as i64 - (end + 2400) as i64).abs() <= 16,
        "{endpoint}"
    );
    assert!(out.iter().any(
        |o| matches!(o, Output::UtteranceEnd { last_word_end } if last_word_end.abs_diff(end) <= 16)
    ));
}

#[test]
fn without_endpointing_each_utterance_is_final_at_once_and_never_speech_final() {
    let opts = Options {
        endpointing_ms: None,
        ..options()
    };
    let mut audio = vec![0i16; ms(200)];
    audio.extend(encode("one", 8000).expect("ascii"));
    audio.extend(vec![0i16; ms(100)]);
    audio.extend(encode("two", 8000).expect("ascii"));
    let out = run(opts, &audio);
    let finals = finals(&out);
    let texts: Vec<String> = finals.iter().map(|r| text(r)).collect();
    assert_eq!(texts, ["one", "two"]);
    assert!(finals.iter().all(|r| !r.speech_final));
    assert_eq!(finals[1].start, finals[0].end, "finals tile the clock");
}
