//! Small audio helpers the simulators share: the G.711 mu-law codec that phone lines use
//! and a windowed-sinc resampler. They are written here, apart from the product's own
//! audio code, so that the emulators check the product instead of agreeing with it by
//! construction.

pub mod mulaw;
pub mod resample;
