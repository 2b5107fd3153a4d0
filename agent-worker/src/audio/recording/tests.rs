//! Recordings end to end: frames in, a WAV file in a local store out, read back with
//! `hound`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::timeline::Timeline;
use super::*;
use crate::audio::{mulaw, FRAME_SAMPLES};

fn temp_dir(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("recording-test-{what}-{}", Uuid::new_v4()))
}

struct Fixture {
    store_dir: PathBuf,
    spool_dir: PathBuf,
    store: RecordingStore,
}

impl Fixture {
    fn new() -> Self {
        let store_dir = temp_dir("store");
        let spool_dir = temp_dir("spool");
        let config = RecordingConfig {
            store_url: format!("file://{}", store_dir.display()),
            spool_dir: spool_dir.clone(),
            // Small parts so a short test file still takes several.
            upload_part_bytes: 30_000,
            ..RecordingConfig::default()
        };
        let store = RecordingStore::from_config(&config).unwrap().unwrap();
        Self {
            store_dir,
            spool_dir,
            store,
        }
    }

    fn spooled_files(&self) -> usize {
        std::fs::read_dir(&self.spool_dir).unwrap().count()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.store_dir);
        let _ = std::fs::remove_dir_all(&self.spool_dir);
    }
}

/// A frame whose every byte marks the side and the slot, so a sample read back tells
/// where it came from.
fn callee_frame(slot: u64) -> Vec<u8> {
    vec![0x10 + (slot % 64) as u8; FRAME_SAMPLES]
}

fn agent_frame(slot: u64) -> Vec<u8> {
    vec![0x90 + (slot % 64) as u8; FRAME_SAMPLES]
}

/// The file's (left, right) sample of every slot, checking each slot is uniform.
fn read_slots(path: &Path) -> (hound::WavSpec, Vec<(i16, i16)>) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let slots = samples
        .chunks(FRAME_SAMPLES * 2)
        .map(|slot| {
            let (left, right) = (slot[0], slot[1]);
            for pair in slot.chunks(2) {
                assert_eq!((pair[0], pair[1]), (left, right), "slot not uniform");
            }
            (left, right)
        })
        .collect();
    (spec, slots)
}

#[tokio::test]
async fn each_side_lands_in_its_own_channel_at_its_own_slot() {
    let fixture = Fixture::new();
    let (org, call) = (Uuid::new_v4(), Uuid::new_v4());
    let mut recorder = fixture
        .store
        .start(org, call, Instant::now())
        .await
        .unwrap();
    for slot in 0..150 {
        recorder.push(Track::Callee, slot, &callee_frame(slot));
        // The agent speaks in two stretches, its frames a little behind the callee's.
        if slot >= 35 && (slot < 50 || (100..120).contains(&slot)) {
            let agent = slot - 5;
            recorder.push(Track::Agent, agent, &agent_frame(agent));
        }
    }
    // A duplicate must not overwrite, a late frame must not land anywhere.
    recorder.push(Track::Agent, 110, &agent_frame(0));
    recorder.push(Track::Agent, 3, &agent_frame(3));
    let stats = recorder.stats();
    assert_eq!((stats.timeline.duplicate, stats.timeline.late), (1, 1));
    assert_eq!(fixture.spooled_files(), 1);

    let stored = recorder.finish().await.unwrap();
    assert_eq!(stored.location, format!("recordings/{org}/{call}.wav"));
    assert_eq!((stored.format.as_str(), stored.channels), ("wav", 2));
    assert_eq!(stored.duration_sec, 3.0);
    let path = fixture.store_dir.join(&stored.location);
    assert_eq!(
        stored.size_bytes as u64,
        std::fs::metadata(&path).unwrap().len()
    );
    assert_eq!(stored.size_bytes, 44 + 150 * 640);
    assert_eq!(fixture.spooled_files(), 0, "the spool file is deleted");

    let bytes = std::fs::read(&path).unwrap();
    let field = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(field(4) as usize, bytes.len() - 8);
    assert_eq!(&bytes[8..16], b"WAVEfmt ");
    assert_eq!(field(28), 32_000, "byte rate");
    assert_eq!(&bytes[36..40], b"data");
    assert_eq!(field(40) as usize, bytes.len() - 44);
    let (spec, slots) = read_slots(&path);
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_rate, 8_000);
    assert_eq!(spec.bits_per_sample, 16);
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    assert_eq!(slots.len(), 150);
    for (slot, &(left, right)) in slots.iter().enumerate() {
        let slot = slot as u64;
        assert_eq!(left, mulaw::decode_sample(callee_frame(slot)[0]), "{slot}");
        let agent_spoke = (30..45).contains(&slot) || (95..115).contains(&slot);
        let expected = if agent_spoke {
            mulaw::decode_sample(agent_frame(slot)[0])
        } else {
            0
        };
        assert_eq!(right, expected, "slot {slot}");
    }
    let event: shared::events::EventKind = stored.into();
    assert!(matches!(
        event,
        shared::events::EventKind::RecordingStored { channels: 2, .. }
    ));
}

#[tokio::test]
async fn a_stretch_without_audio_is_silence_and_later_audio_keeps_its_time() {
    let fixture = Fixture::new();
    let start = Instant::now();
    let mut recorder = fixture
        .store
        .start(Uuid::new_v4(), Uuid::new_v4(), start)
        .await
        .unwrap();
    for slot in 0..10 {
        recorder.push(Track::Callee, slot, &callee_frame(slot));
    }
    // Ten seconds of nothing on either side, then both sides, placed by time.
    for slot in 510..520u64 {
        let at = start + Duration::from_millis(slot * 20 + 7);
        assert_eq!(recorder.slot_at(at), slot);
        recorder.push_at(Track::Agent, at, &agent_frame(slot));
        recorder.push_at(Track::Callee, at, &callee_frame(slot));
    }
    let stored = recorder.finish().await.unwrap();
    assert_eq!(stored.duration_sec, 10.4);
    let (_, slots) = read_slots(&fixture.store_dir.join(&stored.location));
    assert_eq!(slots.len(), 520);
    for (slot, &(left, right)) in slots.iter().enumerate() {
        let slot = slot as u64;
        let callee = mulaw::decode_sample(callee_frame(slot)[0]);
        let agent = mulaw::decode_sample(agent_frame(slot)[0]);
        let expected = match slot {
            0..10 => (callee, 0),
            510.. => (callee, agent),
            _ => (0, 0),
        };
        assert_eq!((left, right), expected, "slot {slot}");
    }
}

#[tokio::test]
async fn a_recorder_dropped_unfinished_deletes_its_spool_file() {
    let fixture = Fixture::new();
    let mut recorder = fixture
        .store
        .start(Uuid::new_v4(), Uuid::new_v4(), Instant::now())
        .await
        .unwrap();
    for slot in 0..200 {
        recorder.push(Track::Callee, slot, &callee_frame(slot));
    }
    assert_eq!(fixture.spooled_files(), 1);
    drop(recorder);
    for _ in 0..100 {
        if fixture.spooled_files() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the spool file is still there");
}

#[test]
fn the_timeline_holds_a_window_for_late_frames_and_skips_empty_stretches() {
    let mut timeline = Timeline::new(4, 2, 1_000);
    timeline.push(Track::Callee, 0, &callee_frame(0));
    timeline.push(Track::Callee, 1, &callee_frame(1));
    // Slot 0 is still held, so the agent's frame for it is on time.
    timeline.push(Track::Agent, 0, &agent_frame(0));
    assert!(timeline.take_batch().is_none());
    timeline.push(Track::Callee, 5, &callee_frame(5));
    // Slots 0 and 1 left the window as one batch; slot 0 now is late.
    let batch = timeline.take_batch().unwrap();
    assert_eq!((batch.first_slot, batch.bytes.len()), (0, 2 * 640));
    timeline.push(Track::Agent, 0, &agent_frame(0));
    assert_eq!(timeline.stats().late, 1);
    // A jump far ahead skips the empty stretch instead of writing zeros.
    timeline.push(Track::Callee, 100, &callee_frame(100));
    let firsts: Vec<u64> = std::iter::from_fn(|| timeline.take_batch())
        .map(|b| b.first_slot)
        .collect();
    assert_eq!(firsts, vec![2, 4]);
    assert_eq!(timeline.finish(), 101);
    let last: Vec<u64> = std::iter::from_fn(|| timeline.take_batch())
        .map(|b| b.first_slot)
        .collect();
    assert_eq!(last, vec![97, 99]);
    // Past the longest recording kept, and short frames (padded with silence).
    timeline.push(Track::Callee, 5_000, &callee_frame(0));
    timeline.push(Track::Callee, 150, &[0x10; 10]);
    assert_eq!(timeline.stats().malformed, 2);
}

#[test]
fn the_config_debug_output_names_options_but_not_their_values() {
    let config = RecordingConfig {
        store_options: [("aws_secret_access_key".to_string(), "hunter2".to_string())].into(),
        ..RecordingConfig::default()
    };
    let shown = format!("{config:?}");
    assert!(shown.contains("aws_secret_access_key"));
    assert!(!shown.contains("hunter2"));
    let parsed: RecordingConfig = serde_json::from_str(r#"{"enabled": false}"#).unwrap();
    assert!(!parsed.enabled);
    assert_eq!(parsed.store_url, "data/recordings");
}
