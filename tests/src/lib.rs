//! End-to-end harness, simulators (Twilio, providers) and benchmark tools.
