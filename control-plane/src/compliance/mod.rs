//! Calling compliance, on by default (OUTBOUND_CALLS.md, "Compliance"): consent on
//! contacts, the disclosure check on assistants, state rules stricter than the federal
//! window, and the campaign abandonment rate. The engine asks [`gate`] before each dial
//! and [`abandonment`] before each campaign's dispatch; every refusal becomes a recorded
//! attempt decision.

pub mod abandonment;
pub mod consent;
pub mod disclosure;
pub mod gate;
pub mod state_rules;
