//! Who is calling: session JWTs (from login) and API keys, both as `Authorization: Bearer`.
//!
//! [`Caller`] is the extractor every `/api/v1` handler takes; it carries the organization
//! id that each query filters by, which is the whole of tenant isolation.

mod credentials;
mod extractor;

pub use credentials::{
    hash_password, new_api_key, verify_login, verify_password, ApiKeySecret, SessionClaims,
    SessionKeys, API_KEY_PREFIX,
};
pub use extractor::Caller;
