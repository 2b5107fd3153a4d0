//! The room task: one per call, one `select!` over the signalling WebSocket, both peer
//! connections' sockets and timers, the pipeline's commands, the 20 ms send clock and the
//! ping clock. Nothing in it blocks: str0m is sans-IO and Opus costs microseconds a frame.
//!
//! For timing a barge-in hop by hop it logs (debug) when the callee's voice starts
//! arriving, when the agent's starts going out, and when a clear stops the agent's audio,
//! with how long ago its last voiced frame left.

use std::time::{Duration, Instant};

use livekit_protocol::{self as proto, data_packet, signal_request, signal_response};
use prost::Message as _;
use str0m::change::SdpPendingOffer;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::Event;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

use super::callee::{CalleeState, Participants};
use super::media::{self, InboundAudio, OutboundAudio, OPUS_FRAME};
use super::pause::{SilencePause, TickSend};
use super::peer::{Peer, PeerError};
use super::playout::{Playout, SendClock};
use super::signal::{self, Signal};
use super::transport::Command;
use super::RoomError;
use crate::audio::mulaw;
use crate::transport::Inbound;

/// The client id of our audio track (the msid track id of the publisher's m-line).
const TRACK_CID: &str = "agent-audio";
/// The msid stream id.
const STREAM_ID: &str = "agent";
/// After a flush, the last frames still cross livekit-sip's jitter buffer: give them this.
const FLUSH_TAIL: Duration = Duration::from_millis(200);
/// A frame above this mean square (RMS 300, as the test phones judge the agent's voice)
/// is voice, for the timing log only.
const VOICE_MEAN_SQUARE: u64 = 300 * 300;
/// Quiet after which the callee's voice counts as starting again.
const VOICE_GAP: Duration = Duration::from_millis(200);

/// How the room ended for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomEnd {
    /// We left.
    Left,
    /// The server removed us or closed the room (deleted, or everyone else left).
    Closed,
    /// The signalling connection died or stopped answering pings.
    Lost,
    /// A peer connection failed, or the task panicked.
    Failed,
}

/// What [`RoomTask::new`] is built from.
pub(super) struct Parts {
    pub(super) signal: Signal,
    pub(super) subscriber: Peer,
    pub(super) publisher: Peer,
    pub(super) to_pipeline: mpsc::Sender<Inbound>,
    pub(super) from_pipeline: mpsc::Receiver<Command>,
    pub(super) callee: watch::Sender<CalleeState>,
    /// Set once the server offers us a remote audio track (we are subscribed to it).
    pub(super) remote_audio: watch::Sender<bool>,
    /// Set once the server says another participant is subscribed to our track.
    pub(super) track_subscribed: watch::Sender<bool>,
    pub(super) pause_in_silence: bool,
}

pub(super) struct RoomTask {
    signal: Signal,
    subscriber: Peer,
    publisher: Peer,
    /// `None` once the callee has left: the pipeline then sees the end of its media.
    to_pipeline: Option<mpsc::Sender<Inbound>>,
    from_pipeline: mpsc::Receiver<Command>,
    callee: watch::Sender<CalleeState>,
    remote_audio: watch::Sender<bool>,
    track_subscribed: watch::Sender<bool>,
    participants: Participants,
    inbound: InboundAudio,
    outbound: OutboundAudio,
    playout: Playout,
    /// Whether a tick sends a packet or the track is paused in silence.
    pause: SilencePause,
    /// Our publisher offer, waiting for the server's answer.
    pending_offer: Option<SdpPendingOffer>,
    /// Offers we made, for their `id`.
    offers: u32,
    /// The m-line our track is sent on.
    publish_mid: Option<Mid>,
    /// RTP time of the next frame we send (48 kHz).
    rtp_time: u64,
    subscriber_up: bool,
    publisher_up: bool,
    ping_interval: Duration,
    ping_timeout: Duration,
    last_heard: Instant,
    /// A flush waiting for the queue to empty: its answer and when the last frame left.
    flushing: Option<(oneshot::Sender<()>, Option<Instant>)>,
    /// Frames the pipeline could not take (its queue full).
    dropped: u64,
    /// When the agent's last frame (not silence) went out.
    last_agent_frame: Option<Instant>,
    /// The agent's voice going out and the callee's arriving, for the timing log.
    agent_voice: VoiceRun,
    callee_voice: VoiceRun,
    /// Frames sent late to catch up after a short stall, and ticks skipped by long ones.
    caught_up: u64,
    skipped: u64,
    /// Callee packets that came after a lost one.
    after_loss: u64,
}

impl RoomTask {
    pub(super) fn new(parts: Parts, join: &proto::JoinResponse) -> Result<Self, RoomError> {
        let mut task = Self {
            signal: parts.signal,
            subscriber: parts.subscriber,
            publisher: parts.publisher,
            to_pipeline: Some(parts.to_pipeline),
            from_pipeline: parts.from_pipeline,
            callee: parts.callee,
            remote_audio: parts.remote_audio,
            track_subscribed: parts.track_subscribed,
            participants: Participants::default(),
            inbound: InboundAudio::new()?,
            outbound: OutboundAudio::new()?,
            playout: Playout::default(),
            pause: SilencePause::new(parts.pause_in_silence),
            pending_offer: None,
            offers: 0,
            publish_mid: None,
            rtp_time: 0,
            subscriber_up: false,
            publisher_up: false,
            ping_interval: Duration::from_secs(
                u64::try_from(join.ping_interval).unwrap_or(5).max(1),
            ),
            ping_timeout: Duration::from_secs(
                u64::try_from(join.ping_timeout).unwrap_or(15).max(2),
            ),
            last_heard: Instant::now(),
            flushing: None,
            dropped: 0,
            last_agent_frame: None,
            agent_voice: VoiceRun::default(),
            callee_voice: VoiceRun::default(),
            caught_up: 0,
            skipped: 0,
            after_loss: 0,
        };
        for participant in &join.other_participants {
            task.on_participant(participant);
        }
        Ok(task)
    }

    /// Runs the room until it ends or `leave` fires; `ready` fires once both peer
    /// connections are up.
    pub(super) async fn run(
        mut self,
        ready: oneshot::Sender<()>,
        mut leave: oneshot::Receiver<()>,
    ) -> RoomEnd {
        let mut ready = Some(ready);
        let end = match self.publish().await {
            Ok(()) => self.drive(&mut ready, &mut leave).await,
            Err(error) => {
                tracing::warn!(%error, "could not publish the agent's track");
                RoomEnd::Failed
            }
        };
        if end == RoomEnd::Left {
            let leave = proto::LeaveRequest {
                reason: proto::DisconnectReason::ClientInitiated as i32,
                action: proto::leave_request::Action::Disconnect as i32,
                ..Default::default()
            };
            let _ = self
                .signal
                .send(signal_request::Message::Leave(leave))
                .await;
        }
        self.signal.close().await;
        self.subscriber.close();
        self.publisher.close();
        if self.dropped > 0 {
            tracing::warn!(
                frames = self.dropped,
                "callee audio the pipeline could not take"
            );
        }
        tracing::debug!(
            ?end,
            caught_up = self.caught_up,
            skipped = self.skipped,
            after_loss = self.after_loss,
            "left the LiveKit room"
        );
        end
    }

    /// Asks to publish the agent's microphone track (the offer follows its confirmation).
    async fn publish(&mut self) -> Result<(), signal::SignalError> {
        let request = proto::AddTrackRequest {
            cid: TRACK_CID.into(),
            name: "agent".into(),
            r#type: proto::TrackType::Audio as i32,
            source: proto::TrackSource::Microphone as i32,
            disable_red: true,
            audio_features: vec![proto::AudioTrackFeature::TfNoDtx as i32],
            ..Default::default()
        };
        self.signal
            .send(signal_request::Message::AddTrack(request))
            .await
    }

    async fn drive(
        &mut self,
        ready: &mut Option<oneshot::Sender<()>>,
        leave: &mut oneshot::Receiver<()>,
    ) -> RoomEnd {
        let mut clock = SendClock::new(Instant::now());
        let mut ping = tokio::time::interval(self.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Both timers live across iterations and are reset, not rebuilt: a `Sleep` made
        // afresh in every `select!` is registered and dropped again each time another
        // branch wins, and the LiveKit bench saw the send clock's wake-ups come 20-70 ms
        // late that way while the task itself kept running (every room at once, on an
        // idle core).
        let send_clock = tokio::time::sleep_until(clock.next_due().into());
        let peers_timer = tokio::time::sleep_until(self.next_peer_timeout().into());
        tokio::pin!(send_clock, peers_timer);
        loop {
            if ready.is_some() && self.subscriber_up && self.publisher_up {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            }
            let wake = tokio::time::Instant::from_std(self.next_peer_timeout());
            if peers_timer.deadline() != wake {
                peers_timer.as_mut().reset(wake);
            }
            // Biased: the audio clock goes first whenever it is due, so a burst of packets
            // or signalling never delays the frame on the wire.
            let step: Result<Option<RoomEnd>, PeerError> = tokio::select! {
                biased;
                _ = &mut *leave => return RoomEnd::Left,
                _ = &mut send_clock => {
                    let sent = self.on_clock(&mut clock);
                    send_clock.as_mut().reset(clock.next_due().into());
                    sent.map(|()| None)
                }
                command = self.from_pipeline.recv() => {
                    self.on_command(command);
                    Ok(None)
                }
                readable = self.subscriber.readable() => match readable {
                    Ok(()) => self.subscriber.on_readable().map(|events| self.on_subscriber(events)),
                    Err(e) => Err(e.into()),
                },
                readable = self.publisher.readable() => match readable {
                    Ok(()) => self.publisher.on_readable().map(|events| self.on_publisher(events)),
                    Err(e) => Err(e.into()),
                },
                message = self.signal.recv() => match message {
                    Some(Ok(message)) => {
                        self.last_heard = Instant::now();
                        self.on_signal(message).await
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "LiveKit signalling failed");
                        Ok(Some(RoomEnd::Lost))
                    }
                    None => Ok(Some(RoomEnd::Lost)),
                },
                _ = &mut peers_timer => self.on_timeout(),
                _ = ping.tick() => self.ping().await,
            };
            match step {
                Ok(None) => {}
                Ok(Some(end)) => return end,
                Err(error) => {
                    tracing::warn!(%error, "a LiveKit peer connection failed");
                    return RoomEnd::Failed;
                }
            }
        }
    }

    /// When the sooner of the two peer connections wants its clock advanced.
    fn next_peer_timeout(&self) -> Instant {
        self.subscriber
            .next_timeout()
            .min(self.publisher.next_timeout())
    }

    fn on_timeout(&mut self) -> Result<Option<RoomEnd>, PeerError> {
        let now = Instant::now();
        if self.subscriber.next_timeout() <= now {
            let events = self.subscriber.on_timeout()?;
            if let Some(end) = self.on_subscriber(events) {
                return Ok(Some(end));
            }
        }
        if self.publisher.next_timeout() <= now {
            let events = self.publisher.on_timeout()?;
            return Ok(self.on_publisher(events));
        }
        Ok(None)
    }

    async fn ping(&mut self) -> Result<Option<RoomEnd>, PeerError> {
        if self.last_heard.elapsed() > self.ping_timeout {
            tracing::warn!(timeout = ?self.ping_timeout, "LiveKit stopped answering pings");
            return Ok(Some(RoomEnd::Lost));
        }
        let ping = proto::Ping {
            timestamp: chrono::Utc::now().timestamp_millis(),
            rtt: 0,
        };
        if self
            .signal
            .send(signal_request::Message::PingReq(ping))
            .await
            .is_err()
        {
            return Ok(Some(RoomEnd::Lost));
        }
        Ok(None)
    }

    fn on_command(&mut self, command: Option<Command>) {
        match command {
            Some(Command::Audio(frame)) => self.playout.push_frame(frame),
            Some(Command::Mark(name)) => self.playout.push_mark(name),
            Some(Command::Clear) => {
                let queued = self.playout.frames();
                let marks = self.playout.clear();
                self.forward_marks(marks);
                self.restart_encoder();
                let now = Instant::now();
                let ago =
                    |at: Option<Instant>| at.map(|at| now.duration_since(at).as_micros() as u64);
                tracing::debug!(
                    dropped_frames = queued,
                    last_frame_us_ago = ago(self.last_agent_frame),
                    last_voice_us_ago = ago(self.agent_voice.last()),
                    callee_voice_us_ago = ago(self.callee_voice.start()),
                    "cleared the agent's audio"
                );
            }
            Some(Command::Flush(done)) => self.flushing = Some((done, None)),
            // The transport is gone: nothing more to play.
            None => {}
        }
    }

    /// A fresh encoder after a clear: the old one's look-ahead still holds a few ms of
    /// the agent's voice, which would go out in the next packet. One frame of silence
    /// primes the new one, so its first packet after the clear starts from a settled
    /// state and the stream has no hole.
    fn restart_encoder(&mut self) {
        match OutboundAudio::new() {
            Ok(mut fresh) => {
                let _ = fresh.push(&media::silence());
                self.outbound = fresh;
            }
            Err(error) => tracing::warn!(%error, "could not restart the agent's encoder"),
        }
    }

    /// A wake-up of the send clock: the frames due go out, and the RTP time of the ticks
    /// a long stall skipped passes (a receiver sees a gap, not audio squeezed together).
    fn on_clock(&mut self, clock: &mut SendClock) -> Result<(), PeerError> {
        let due = clock.due(Instant::now());
        if due.skipped > 0 {
            self.skipped += u64::from(due.skipped);
            self.rtp_time += u64::from(due.skipped) * OPUS_FRAME as u64;
            tracing::debug!(
                ticks = due.skipped,
                "the send clock stalled: its backlog is skipped, not sent in a burst"
            );
        }
        self.caught_up += u64::from(due.frames.saturating_sub(1));
        for _ in 0..due.frames {
            self.send_frame()?;
        }
        Ok(())
    }

    /// One tick of the 20 ms clock: the next frame of the agent (or silence) goes out.
    fn send_frame(&mut self) -> Result<(), PeerError> {
        let tick = self.playout.tick();
        self.forward_marks(tick.marks);
        if let Some((_, emptied)) = &mut self.flushing {
            if tick.frame.is_none() && self.playout.frames() == 0 {
                let since = *emptied.get_or_insert_with(Instant::now);
                if since.elapsed() >= FLUSH_TAIL {
                    if let Some((done, _)) = self.flushing.take() {
                        let _ = done.send(());
                    }
                }
            }
        }
        if tick.frame.is_some() {
            let now = Instant::now();
            self.last_agent_frame = Some(now);
            if tick.frame.as_deref().is_some_and(is_voice) && self.agent_voice.note(now) {
                tracing::debug!("the agent's voice started going out");
            }
        }
        let talkspurt = match self.pause.tick(tick.frame.is_some()) {
            TickSend::Packet { talkspurt } => talkspurt,
            TickSend::Pause => {
                // The RTP clock runs on: the receiver sees the pause's length.
                if self.publish_mid.is_some() && self.publisher_up {
                    self.rtp_time += OPUS_FRAME as u64;
                }
                return Ok(());
            }
        };
        let silence = media::silence();
        let frame = tick.frame.as_deref().unwrap_or(&silence);
        let packet = match self.outbound.push(frame) {
            Ok(Some(packet)) => packet,
            Ok(None) => return Ok(()),
            Err(error) => {
                tracing::warn!(%error, "could not encode the agent's audio");
                return Ok(());
            }
        };
        let (Some(mid), true) = (self.publish_mid, self.publisher_up) else {
            return Ok(());
        };
        let rtp_time = MediaTime::new(self.rtp_time, Frequency::FORTY_EIGHT_KHZ);
        self.rtp_time += OPUS_FRAME as u64;
        let rtc = self.publisher.rtc();
        let written = rtc.writer(mid).and_then(|writer| {
            let pt = writer.payload_params().next().map(|p| p.pt())?;
            Some(
                writer
                    .start_of_talkspurt(talkspurt)
                    .write(pt, Instant::now(), rtp_time, packet),
            )
        });
        // Poll after every write, a failed one included: str0m refuses the next write
        // until it has been polled, so returning early here turned one bad frame into a
        // dead publisher ("Consecutive calls to write() without poll_output()"), seen by
        // the LiveKit bench at 50 calls. One lost frame is a click; a dead track is silence.
        let drained = self.publisher.drain();
        if let Some(Err(error)) = written {
            tracing::warn!(%error, "could not send one frame of the agent's audio");
        }
        drained?;
        Ok(())
    }

    fn forward_marks(&mut self, marks: Vec<String>) {
        for mark in marks {
            self.forward(Inbound::Mark(mark));
        }
    }

    fn forward(&mut self, item: Inbound) {
        if let Some(pipeline) = &self.to_pipeline {
            if pipeline.try_send(item).is_err() {
                self.dropped += 1;
            }
        }
    }

    async fn on_signal(
        &mut self,
        message: signal_response::Message,
    ) -> Result<Option<RoomEnd>, PeerError> {
        match message {
            signal_response::Message::Offer(offer) => {
                let (answer, events) = self.subscriber.accept_offer(&offer.sdp)?;
                let answer = signal::description("answer", answer, offer.id);
                let candidate =
                    signal::trickle(self.subscriber.candidate(), proto::SignalTarget::Subscriber);
                for message in [signal_request::Message::Answer(answer), candidate] {
                    if self.signal.send(message).await.is_err() {
                        return Ok(Some(RoomEnd::Lost));
                    }
                }
                return Ok(self.on_subscriber(events));
            }
            signal_response::Message::Answer(answer) => {
                if let Some(pending) = self.pending_offer.take() {
                    let events = self.publisher.accept_answer(pending, &answer.sdp)?;
                    return Ok(self.on_publisher(events));
                }
            }
            signal_response::Message::Trickle(trickle) => {
                if let Some(candidate) = signal::trickled_candidate(&trickle) {
                    if trickle.target == proto::SignalTarget::Publisher as i32 {
                        let events = self.publisher.add_remote_candidate(candidate)?;
                        return Ok(self.on_publisher(events));
                    }
                    let events = self.subscriber.add_remote_candidate(candidate)?;
                    return Ok(self.on_subscriber(events));
                }
            }
            signal_response::Message::TrackPublished(published) if published.cid == TRACK_CID => {
                return self.offer_publisher().await;
            }
            // The server's down track to a subscriber is bound and connected: what we
            // send from now on reaches it (sent once, for the first subscriber).
            signal_response::Message::TrackSubscribed(_) => {
                self.track_subscribed.send_replace(true);
            }
            signal_response::Message::Update(update) => {
                for participant in &update.participants {
                    self.on_participant(participant);
                }
            }
            signal_response::Message::Leave(leave) => {
                tracing::info!(reason = leave.reason, "LiveKit removed us from the room");
                return Ok(Some(RoomEnd::Closed));
            }
            _ => {}
        }
        Ok(None)
    }

    /// Offers the publisher connection with our send-only Opus m-line.
    async fn offer_publisher(&mut self) -> Result<Option<RoomEnd>, PeerError> {
        let mut api = self.publisher.rtc().sdp_api();
        let mid = api.add_media(
            MediaKind::Audio,
            Direction::SendOnly,
            Some(STREAM_ID.into()),
            Some(TRACK_CID.into()),
            None,
        );
        let Some((offer, pending)) = api.apply() else {
            return Ok(None);
        };
        self.publisher.drain()?;
        self.publish_mid = Some(mid);
        self.pending_offer = Some(pending);
        self.offers += 1;
        let offer = signal::description("offer", offer.to_sdp_string(), self.offers);
        let candidate = signal::trickle(self.publisher.candidate(), proto::SignalTarget::Publisher);
        for message in [signal_request::Message::Offer(offer), candidate] {
            if self.signal.send(message).await.is_err() {
                return Ok(Some(RoomEnd::Lost));
            }
        }
        Ok(None)
    }

    fn on_participant(&mut self, participant: &proto::ParticipantInfo) {
        if let Some(state) = self.participants.apply(participant) {
            tracing::debug!(?state, "the callee's state changed");
            if state == CalleeState::Left {
                // The pipeline reads what is queued, then sees its media end.
                self.to_pipeline = None;
            }
            self.callee.send_replace(state);
        }
    }

    fn on_subscriber(&mut self, events: Vec<Event>) -> Option<RoomEnd> {
        for event in events {
            match event {
                Event::Connected => self.subscriber_up = true,
                Event::MediaAdded(added) if added.kind == MediaKind::Audio => {
                    self.remote_audio.send_replace(true);
                }
                Event::MediaData(data) => self.on_callee_packet(&data),
                Event::ChannelData(data) => {
                    if let Some(digit) = dtmf_digit(&data.data) {
                        self.forward(Inbound::Dtmf(digit));
                    }
                }
                Event::IceConnectionStateChange(str0m::IceConnectionState::Disconnected) => {
                    tracing::warn!("the subscriber connection to LiveKit was lost");
                    return Some(RoomEnd::Lost);
                }
                _ => {}
            }
        }
        None
    }

    /// One packet of the callee's track: decoded (a loss before it concealed) and sent
    /// on to the pipeline.
    fn on_callee_packet(&mut self, data: &str0m::media::MediaData) {
        let time = data.time.rebase(Frequency::FORTY_EIGHT_KHZ).numer();
        let (frames, after_loss) = self.inbound.receive(&data.data, time, data.contiguous);
        self.after_loss += u64::from(after_loss);
        match frames {
            Ok(frames) => {
                for frame in frames {
                    self.note_callee_voice(&frame);
                    self.forward(Inbound::Audio(frame));
                }
            }
            Err(error) => tracing::debug!(%error, "an undecodable Opus packet"),
        }
    }

    /// Logs when the callee's voice starts arriving: the far end of a barge-in's first hop.
    fn note_callee_voice(&mut self, frame: &[u8]) {
        if is_voice(frame) && self.callee_voice.note(Instant::now()) {
            tracing::debug!("the callee's voice started arriving");
        }
    }

    fn on_publisher(&mut self, events: Vec<Event>) -> Option<RoomEnd> {
        for event in events {
            match event {
                Event::Connected => self.publisher_up = true,
                Event::IceConnectionStateChange(str0m::IceConnectionState::Disconnected) => {
                    tracing::warn!("the publisher connection to LiveKit was lost");
                    return Some(RoomEnd::Lost);
                }
                _ => {}
            }
        }
        None
    }
}

/// A run of voiced frames one way: when it started and when its last frame passed.
#[derive(Debug, Default)]
struct VoiceRun(Option<(Instant, Instant)>);

impl VoiceRun {
    /// Notes a voiced frame at `now`; true if it starts a run (after [`VOICE_GAP`] of quiet).
    fn note(&mut self, now: Instant) -> bool {
        match &mut self.0 {
            Some((_, last)) if now.duration_since(*last) < VOICE_GAP => {
                *last = now;
                false
            }
            run => {
                *run = Some((now, now));
                true
            }
        }
    }

    fn start(&self) -> Option<Instant> {
        self.0.map(|(start, _)| start)
    }

    fn last(&self) -> Option<Instant> {
        self.0.map(|(_, last)| last)
    }
}

/// Whether a mu-law frame is loud enough to be voice.
fn is_voice(frame: &[u8]) -> bool {
    let energy: u64 = frame
        .iter()
        .map(|&b| {
            let sample = i64::from(mulaw::decode_sample(b));
            (sample * sample) as u64
        })
        .sum();
    energy > VOICE_MEAN_SQUARE * frame.len() as u64
}

/// The key a `DataPacket` carries, if it is the SIP participant's DTMF.
fn dtmf_digit(data: &[u8]) -> Option<char> {
    let packet = proto::DataPacket::decode(data).ok()?;
    let Some(data_packet::Value::SipDtmf(dtmf)) = packet.value else {
        return None;
    };
    if let Some(digit) = dtmf.digit.chars().next() {
        return Some(digit);
    }
    match dtmf.code {
        0..=9 => char::from_digit(dtmf.code, 10),
        10 => Some('*'),
        11 => Some('#'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_is_told_from_silence_and_hiss_by_its_level() {
        assert!(!is_voice(&media::silence()));
        let frame = |level: f64| -> Vec<u8> {
            (0..160)
                .map(|i| {
                    let t = f64::from(i) / 8000.0;
                    mulaw::encode_sample(
                        (level * (2.0 * std::f64::consts::PI * 800.0 * t).sin()) as i16,
                    )
                })
                .collect()
        };
        // A sine's RMS is its peak over sqrt 2: 300 RMS is a 424 peak.
        assert!(!is_voice(&frame(200.0)));
        assert!(is_voice(&frame(2000.0)));
    }

    #[test]
    fn a_voice_run_starts_after_a_gap_of_quiet() {
        let start = Instant::now();
        let mut run = VoiceRun::default();
        assert!(run.note(start));
        assert!(!run.note(start + Duration::from_millis(20)));
        assert!(!run.note(start + Duration::from_millis(200)));
        assert_eq!(run.start(), Some(start));
        assert!(run.note(start + Duration::from_millis(400)));
        assert_eq!(run.last(), Some(start + Duration::from_millis(400)));
    }

    #[test]
    fn sip_dtmf_data_packets_give_their_key() {
        let packet = |code, digit: &str| {
            proto::DataPacket {
                participant_identity: "callee".into(),
                value: Some(data_packet::Value::SipDtmf(proto::SipDtmf {
                    code,
                    digit: digit.into(),
                })),
                ..Default::default()
            }
            .encode_to_vec()
        };
        assert_eq!(dtmf_digit(&packet(5, "5")), Some('5'));
        assert_eq!(dtmf_digit(&packet(11, "")), Some('#'));
        let user = proto::DataPacket {
            value: Some(data_packet::Value::User(proto::UserPacket::default())),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(dtmf_digit(&user), None);
        assert_eq!(dtmf_digit(b"\xff\xff"), None);
    }
}
