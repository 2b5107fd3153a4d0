use super::listen::{ListenMixer, SupervisorVoice, FRAME_BYTES};
use super::*;
use crate::audio::mulaw;

#[tokio::test]
async fn one_connection_holds_a_take_over_and_its_leaving_hands_back() {
    let hub = Hub::default();
    let call = Uuid::new_v4();
    let mut end = hub.open(call);
    let line = hub.get(call).unwrap();
    let (first, second) = (line.connect(), line.connect());
    line.take_over(first).unwrap();
    assert_eq!(line.take_over(second), Err(Refusal::TakenByAnother));
    assert_eq!(
        line.command(Command::Say("hi".into())),
        Err(Refusal::TakenOver)
    );
    assert!(line.state().borrow().taken_over);
    // Only the owner's voice goes through.
    line.supervisor_audio(second, Bytes::from_static(b"xx"));
    line.supervisor_audio(first, Bytes::from_static(b"ok"));
    assert_eq!(end.audio.try_recv().unwrap(), Bytes::from_static(b"ok"));
    assert!(end.audio.try_recv().is_err());
    // A listener that is not the owner leaving changes nothing; the owner leaving does.
    line.release(second);
    assert!(line.state().borrow().taken_over);
    line.release(first);
    assert!(!line.state().borrow().taken_over);
    assert_eq!(end.commands.try_recv().unwrap(), Command::TakeOver);
    assert_eq!(end.commands.try_recv().unwrap(), Command::HandBack);
    assert_eq!(line.hand_back(), Err(Refusal::NotTakenOver));
}

#[tokio::test]
async fn a_line_closes_when_its_session_ends() {
    let hub = Hub::default();
    let call = Uuid::new_v4();
    let end = hub.open(call);
    let line = hub.get(call).unwrap();
    let mut state = line.state();
    drop(end);
    assert!(hub.get(call).is_none());
    state.changed().await.unwrap();
    assert!(state.borrow().ended);
    assert_eq!(line.command(Command::End), Err(Refusal::Ended));
}

#[tokio::test]
async fn a_full_command_queue_is_refused_not_waited_on() {
    let hub = Hub::default();
    let call = Uuid::new_v4();
    let _end = hub.open(call);
    let line = hub.get(call).unwrap();
    let results: Vec<_> = (0..COMMAND_QUEUE + 1)
        .map(|i| line.command(Command::Whisper(i.to_string())))
        .collect();
    assert!(results[..COMMAND_QUEUE].iter().all(Result::is_ok));
    assert_eq!(results[COMMAND_QUEUE], Err(Refusal::Busy));
}

/// A 20 ms mu-law frame of a constant level.
fn level(sample: i16) -> Vec<u8> {
    mulaw::encode(&[sample; crate::audio::FRAME_SAMPLES])
}

/// The mean of each channel of a stereo listen frame.
fn means(frame: &[u8]) -> (i64, i64) {
    assert_eq!(frame.len(), FRAME_BYTES);
    let samples: Vec<i64> = frame
        .chunks_exact(2)
        .map(|b| i64::from(i16::from_le_bytes([b[0], b[1]])))
        .collect();
    let left: i64 = samples.iter().step_by(2).sum();
    let right: i64 = samples.iter().skip(1).step_by(2).sum();
    let n = samples.len() as i64 / 2;
    (left / n, right / n)
}

#[test]
fn listen_frames_put_the_callee_left_and_the_agent_right_and_clear_drops_the_agent() {
    let mut mixer = ListenMixer::new();
    let mut frames = Vec::new();
    for _ in 0..50 {
        mixer.agent(&level(-8000));
        frames.extend(mixer.callee(&level(8000)));
    }
    assert!(frames.len() >= 45, "{} frames", frames.len());
    let (left, right) = means(&frames[frames.len() - 10]);
    assert!(left > 6000, "left {left}");
    assert!(right < -6000, "right {right}");
    // Queued agent audio the far end dropped is not heard on the right either.
    for _ in 0..20 {
        mixer.agent(&level(-8000));
    }
    mixer.clear();
    let mut after = Vec::new();
    for _ in 0..20 {
        after.extend(mixer.callee(&level(8000)));
    }
    let (_, right) = means(after.last().unwrap());
    assert!(right.abs() < 200, "right after clear {right}");
}

#[test]
fn agent_messages_of_several_frames_play_one_frame_per_callee_frame() {
    // Twilio messages carry three frames: each must reach the right channel, in order.
    let mut mixer = ListenMixer::new();
    let mut frames = Vec::new();
    for round in 0..10 {
        let mut message = level(-8000);
        message.extend(level(4000));
        message.extend(level(if round % 2 == 0 { -2000 } else { 6000 }));
        mixer.agent(&message);
        for _ in 0..3 {
            frames.extend(mixer.callee(&level(0)));
        }
    }
    assert!(frames.len() >= 25, "{} frames", frames.len());
    // The resampler delays a little: compare the middle of the run, three frames a round.
    let rights: Vec<i64> = frames[9..27].iter().map(|f| means(f).1).collect();
    let expected = [-8000, 4000];
    for (i, right) in rights.iter().enumerate() {
        let want = match (i + 9) % 3 {
            0 => expected[0],
            1 => expected[1],
            _ => {
                if (i + 9) / 3 % 2 == 0 {
                    -2000
                } else {
                    6000
                }
            }
        };
        assert!(
            (right - want).abs() < 1500,
            "frame {}: {right}, not {want}",
            i + 9
        );
    }
}

#[test]
fn the_supervisors_voice_becomes_8_khz_frames_however_it_is_chunked() {
    let pcm: Vec<u8> = (0..16_000)
        .flat_map(|i: i32| (((i % 40) * 400 - 8000) as i16).to_le_bytes())
        .collect();
    let mut whole = SupervisorVoice::new();
    let a: Vec<Bytes> = whole.push(&pcm);
    let mut split = SupervisorVoice::new();
    let mut b = Vec::new();
    for chunk in pcm.chunks(333) {
        b.extend(split.push(chunk));
    }
    assert_eq!(a, b);
    assert!(a.len() >= 45, "{} frames from 1 s", a.len());
    assert!(a.iter().all(|f| f.len() == crate::audio::FRAME_SAMPLES));
}
