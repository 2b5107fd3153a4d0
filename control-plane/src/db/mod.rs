//! SQL, one module per table group. Every function that reads or writes customer data
//! takes the caller's `org_id` and filters by it.

pub mod api_keys;
pub mod assistants;
pub mod calls;
pub mod campaigns;
pub mod compliance;
pub mod contact_batch;
pub mod contacts;
pub mod dnc;
pub mod imports;
pub mod messages;
pub mod metrics;
pub mod numbers;
pub mod tenancy;
pub mod trunks;
pub mod webhooks;

/// A transaction on the pool's database.
pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;
