//! Inbound webhooks from the telephony providers, each validated before it is believed.

pub mod twilio;
