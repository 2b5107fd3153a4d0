//! HTTP plumbing shared by every API module: extractors with JSON errors, pagination,
//! request spans and metrics, security headers and CORS.

pub mod extract;
pub mod headers;
pub mod layers;
pub mod pagination;

pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use pagination::{Page, PageQuery};
