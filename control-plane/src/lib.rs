//! The control plane of the outbound calling platform.
//!
//! - [`api`]: the REST API, one module per resource, each with its own `router()`.
//! - [`db`]: SQL, one module per table group; every customer query filters by `org_id`.
//! - [`imports`]: streaming CSV import of contacts and Do-Not-Call numbers.
//! - [`auth`], [`http`], [`error`]: who is calling, request plumbing, the error shape.
//! - [`inbound`], [`sms`]: calls to our numbers, texts in and out (opt-outs included).
//! - [`integrations`]: customers' webhooks (signed, from an outbox), pre-dial checks,
//!   post-call analysis.
//! - [`limits`]: abuse limits (sign-in throttling and lockout, API rate limits).
//! - [`app`], [`config`], [`state`], [`telemetry`]: wiring.

pub mod api;
pub mod app;
pub mod auth;
pub mod compliance;
pub mod config;
pub mod console;
pub mod crypto;
pub mod db;
pub mod dialer;
pub mod domain;
pub mod effects;
pub mod engine;
pub mod error;
pub mod http;
pub mod imports;
pub mod inbound;
pub mod integrations;
pub mod internal;
pub mod limits;
pub mod provisioning;
pub mod sms;
pub mod state;
pub mod supervision;
pub mod telemetry;
pub mod telephony_cost;
pub mod webhooks;
