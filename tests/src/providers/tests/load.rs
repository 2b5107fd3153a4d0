//! How many live STT sessions one core serves: the emulator on a single-threaded runtime
//! of its own, clients streaming real-time 20 ms mu-law frames from another thread, and
//! the emulator thread's CPU time read from `/proc/thread-self/stat`. Ignored by default;
//! run with optimisation and, optionally, `STREAMS` and `SECONDS`:
//!
//! `STREAMS=500 SECONDS=20 cargo test -p outbound-tests --lib --config
//!  'profile.dev.package."outbound-tests".opt-level=3' providers::tests::load -- --ignored
//!  --nocapture`

use super::*;
use crate::providers::Report;
use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;

/// CPU seconds this thread has used (Linux; clock ticks are 100 Hz there).
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One side of a call: silence with an utterance every few seconds, as mu-law bytes.
fn call_audio(seconds: usize, who: usize) -> Vec<u8> {
    let mut pcm = silence(500 + (who % 40) * 50);
    let mut turn = 0;
    while pcm.len() < seconds * 8000 {
        pcm.extend(speech(&format!("caller {who} says token-{turn}")));
        pcm.extend(silence(2500));
        turn += 1;
    }
    pcm.truncate(seconds * 8000);
    mulaw::encode(&pcm)
}

async fn caller(base: String, audio: Arc<Vec<u8>>) -> usize {
    let url = format!("{base}/v1/listen?{PRODUCT_QUERY}");
    let mut request = url.into_client_request().expect("url");
    request
        .headers_mut()
        .insert("authorization", HeaderValue::from_static("Token k"));
    let Ok((ws, _)) = tokio_tungstenite::connect_async(request).await else {
        return 0;
    };
    let (mut sink, mut source) = ws.split();
    let reader = tokio::spawn(async move {
        let mut finals = 0;
        while let Some(Ok(message)) = source.next().await {
            if let Message::Text(text) = message {
                if text.as_str().contains("\"speech_final\":true")
                    && text.as_str().contains("token-")
                {
                    finals += 1;
                }
            }
        }
        finals
    });
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for frame in audio.chunks(160) {
        tick.tick().await;
        if sink.send(Message::binary(frame.to_vec())).await.is_err() {
            break;
        }
    }
    let close = Message::text(json!({"type": "CloseStream"}).to_string());
    let _ = sink.send(close).await;
    reader.await.unwrap_or(0)
}

#[test]
#[ignore = "a load measurement; run with optimisation"]
fn live_sessions_one_core_can_serve() {
    let streams = env("STREAMS", 500);
    let seconds = env("SECONDS", 20);
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Named, so a profiler can pick the emulator's thread out (`perf report --comm`).
    let server = std::thread::Builder::new()
        .name("emulator".into())
        .spawn(move || -> (f64, Report) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let emu = start(ProviderConfig::instant()).await;
                let _ = url_tx.send(emu.ws_base_url());
                let before = thread_cpu();
                let _ = stop_rx.await;
                (thread_cpu() - before, emu.report())
            })
        })
        .expect("thread");
    let base = url_rx.recv().expect("emulator started");
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let started = std::time::Instant::now();
    let finals: usize = clients.block_on(async move {
        let calls: Vec<_> = (0..streams)
            .map(|who| tokio::spawn(caller(base.clone(), Arc::new(call_audio(seconds, who)))))
            .collect();
        let mut finals = 0;
        for call in calls {
            finals += call.await.unwrap_or(0);
        }
        finals
    });
    let wall = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(200));
    let _ = stop_tx.send(());
    let (cpu, report) = server.join().expect("emulator thread");
    let audio: f64 = report.stt.iter().map(|s| s.audio_seconds).sum();
    let expected: usize = (0..streams)
        .map(|who| {
            let lead = 500 + (who % 40) * 50;
            // Turns whose endpoint falls inside the audio.
            (0..)
                .take_while(|t| lead + t * 4700 + 2500 <= seconds * 1000)
                .count()
        })
        .sum();
    println!(
        "{streams} sessions x {seconds} s: {audio:.0} s of audio in {wall:.1} s wall; emulator \
         thread used {cpu:.2} s CPU ({:.0}% of one core while the calls ran) -> {:.0} \
         real-time streams per core; {finals} of about {expected} turns finalised",
        100.0 * cpu / wall,
        audio / cpu.max(0.01),
    );
    assert_eq!(report.stt.len(), streams);
}
