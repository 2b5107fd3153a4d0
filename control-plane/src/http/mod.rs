//! HTTP plumbing shared by every API module: extractors with JSON errors, pagination,
//! request spans and metrics.

pub mod extract;
pub mod layers;
pub mod pagination;

pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use pagination::{Page, PageQuery};
