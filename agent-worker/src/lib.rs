//! The agent worker: joins calls and holds the conversations.
//!
//! `transport/` is how a call's audio arrives (Twilio Media Streams), `audio/` the phone's
//! audio (mu-law, VAD, pacing, recording), `pipeline/` the conversation, `providers/` the
//! speech and language services behind streaming traits, `control/` the control plane's
//! worker API, `supervision/` live listening and call control. `app.rs` is the process, `calls.rs` the wiring of one call.

pub mod app;
pub mod audio;
pub mod calls;
pub mod config;
pub mod control;
pub mod metrics;
pub mod pipeline;
pub mod providers;
pub mod standalone;
pub mod supervision;
pub mod transport;
