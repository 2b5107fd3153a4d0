//! The voice benchmark's small version, run in CI: 20 concurrent calls through one worker
//! process must show no gap in the agent's audio, lose no callee audio and miss no echo.

use outbound_tests::bench::voice::VoiceBench;
use outbound_tests::process::agent_worker_binary;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_calls_have_no_gap_and_lose_nothing() {
    let _slot = crate::slot(2).await;
    let work_dir = tempfile::tempdir().unwrap();
    let bench = VoiceBench {
        calls: 20,
        worker_binary: agent_worker_binary().unwrap(),
        worker_cpu: None,
        worker_threads: 1,
        ramp: Duration::from_secs(2),
        stt_delay_ms: 0,
        llm_first_token_ms: 0,
        tts_first_byte_ms: 0,
        work_dir: work_dir.path().to_path_buf(),
    };
    let result = bench.run().await.unwrap();
    eprintln!("{result:#?}");
    assert_eq!(result.completed, 20, "{result:#?}");
    assert_eq!(result.calls_with_gaps, 0, "{result:#?}");
    assert_eq!(result.missing_echoes, 0, "{result:#?}");
    assert!(result.clean(), "{result:#?}");
    assert!(
        result.barge_in_ms.is_some_and(|b| b.max <= 300.0),
        "{result:#?}"
    );
}
