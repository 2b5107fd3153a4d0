//! The agent worker's LiveKit room participant on the real rig: livekit-server,
//! livekit-sip and a SIP callee of ours (`outbound_tests::livekit::phone`) that speaks and
//! hears the test speech code through livekit-sip's PCMU <-> Opus transcoding.
//! `join` checks the participant alone against livekit-server; `conversation` runs a
//! `livekit_sip` campaign call end to end; `machine` a voicemail greeting and DTMF;
//! `campaign` a campaign of talk, busy, no-answer and voicemail callees with recordings
//! and costs; `barge_in` the callee talking over the agent, timed at its ear; `crash` a
//! worker killed mid-call; `inbound` a SIP caller dialing one of our numbers through
//! livekit-sip.

#![allow(unreachable_pub)]

mod barge_in;
mod campaign;
mod conversation;
mod crash;
mod inbound;
mod join;
mod machine;
