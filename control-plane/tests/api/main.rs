//! Integration tests of the REST API: the real app on port 0 against a fresh PostgreSQL
//! database per test (`#[sqlx::test]`).

// Test helpers are `pub` for the sibling modules; the crate itself exports nothing.
#![allow(unreachable_pub)]

mod helpers;

mod assistants;
mod auth;
mod calls;
mod campaigns;
mod compliance;
mod console;
mod contacts;
mod dnc;
mod errors;
mod imports;
mod internal;
mod metrics;
mod openapi;
mod recordings;
mod reporter;
mod security;
mod supervision;
mod tenancy;
mod trunks;
mod webhooks;
