//! End-to-end harness, simulators and benchmark tools.
//!
//! - [`providers`]: Deepgram, OpenAI and ElevenLabs emulators (STT, LLM, TTS) that hear
//!   and speak the test speech code.
//! - [`twilio`]: the Twilio emulator (REST Calls API, signed callbacks, TwiML, Media
//!   Streams with scripted callees).
//! - [`speech_code`]: text carried in speech-band audio, so tests know exactly what was
//!   said and heard; [`audio`]: the emulator's own mu-law codec and resampler.
//! - [`rig`]: the control plane, the emulator and a stand-in worker wired together.
//! - [`contacts_csv`]: a deterministic contact CSV of any size, generated as a stream.
//! - [`process`]: starting a real control-plane binary and watching its memory.
//! - [`livekit`]: a real livekit-server with its Redis, for the trunk registration tests.

pub mod audio;
pub mod bench;
pub mod contacts_csv;
pub mod livekit;
pub mod process;
pub mod providers;
pub mod rig;
pub mod speech_code;
pub mod twilio;
