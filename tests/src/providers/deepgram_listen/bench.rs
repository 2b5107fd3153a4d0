//! How many real-time 8 kHz streams one core can transcribe: the decoder behind the
//! silence gate, over a call-like mix of speech and silence. Ignored by default; run with
//! optimisation, e.g.
//!
//! `cargo test -p outbound-tests --lib --config 'profile.dev.package."outbound-tests".opt-level=3'
//!  providers::deepgram_listen::bench -- --ignored --nocapture`

use super::transcriber::{Options, Transcriber};
use crate::audio::mulaw;
use crate::speech_code::encode;
use std::time::Instant;

/// A minute of one side of a call: the callee speaks about a quarter of the time, in
/// 20 ms mu-law frames as the phone network sends them.
fn call_minute() -> Vec<u8> {
    let mut pcm = Vec::new();
    let mut turn = 0;
    while pcm.len() < 8000 * 60 {
        pcm.extend(vec![0i16; 8000 * 3]);
        pcm.extend(encode(&format!("yes I can hear you token-{turn}"), 8000).expect("ascii"));
        turn += 1;
    }
    mulaw::encode(&pcm)
}

fn transcribe(audio: &[u8], gate: bool, lines: &[i16; 256]) -> (f64, usize) {
    let mut transcriber = Transcriber::new(Options {
        rate: 8000,
        interim_results: true,
        endpointing_ms: Some(300),
        utterance_end_ms: Some(1000),
        vad_events: true,
        silence_gate: gate,
    });
    let started = Instant::now();
    let mut outputs = 0;
    for frame in audio.chunks(160) {
        let pcm: Vec<i16> = frame.iter().map(|&b| lines[usize::from(b)]).collect();
        outputs += transcriber.push(&pcm).len();
    }
    (started.elapsed().as_secs_f64(), outputs)
}

#[test]
#[ignore = "a measurement, not a check; run with optimisation"]
fn real_time_streams_one_core_can_transcribe() {
    let audio = call_minute();
    let seconds = audio.len() as f64 / 8000.0;
    let mut table = [0i16; 256];
    for (b, slot) in table.iter_mut().enumerate() {
        *slot = mulaw::decode_sample(b as u8);
    }
    for gate in [false, true] {
        // Best of three: the machine is shared.
        let (cpu, outputs) = (0..3)
            .map(|_| transcribe(&audio, gate, &table))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((f64::NAN, 0));
        println!(
            "silence gate {gate}: {seconds:.0} s of call audio in {:.2} ms -> {:.0} real-time \
             streams per core ({outputs} messages)",
            cpu * 1000.0,
            seconds / cpu
        );
    }
}
