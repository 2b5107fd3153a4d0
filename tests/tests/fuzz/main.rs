//! Property tests of the parsers that face the network: phone numbers, the CSV import's
//! rows, Twilio's and LiveKit's webhooks, the LLM's server-sent events, and the worker's
//! job and event JSON. Each must never panic whatever it is fed, and keep its invariants
//! (E.164 out, signatures that only the token makes, chunking that changes nothing).
//! Memory stays bounded by the parsers' own caps, which have their own tests (the SSE
//! event cap here; CSV record and upload caps and JSON body limits in the API tests): a
//! counting allocator would need `unsafe`, which the workspace forbids. (The Media Streams
//! parser is private to the worker and has its property test beside it.)
//!
//! CI runs [`DEFAULT_CASES`] cases per property; `./dev fuzz` sets `PROPTEST_CASES` to a
//! million for the long run.

#![allow(unreachable_pub)]

mod csv;
mod json;
mod phone;
mod sse;
mod webhooks;

use proptest::test_runner::Config;

/// Cases per property when `PROPTEST_CASES` is unset: enough to find the easy crashes in
/// a few seconds of CI.
pub const DEFAULT_CASES: u32 = 2_000;

/// The suite's proptest settings: the case count from `PROPTEST_CASES`, no regression
/// files written into the source tree (a failure prints its minimal input instead).
pub fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
