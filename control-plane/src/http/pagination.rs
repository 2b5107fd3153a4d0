//! `?page=&perPage=` in, `{data, total, page, perPage}` out.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// The largest page a client may ask for.
pub const MAX_PER_PAGE: i64 = 500;

/// Page selection, 1-based.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    pub per_page: Option<i64>,
}

impl PageQuery {
    /// (page, per_page) after defaults and bounds checks.
    pub fn resolve(self) -> Result<(i64, i64), ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(50);
        if page < 1 {
            return Err(ApiError::invalid("page", "must be at least 1"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::invalid(
                "perPage",
                format!("must be between 1 and {MAX_PER_PAGE}"),
            ));
        }
        Ok((page, per_page))
    }

    /// SQL `limit` and `offset` for this page.
    pub fn limit_offset(self) -> Result<(i64, i64), ApiError> {
        let (page, per_page) = self.resolve()?;
        Ok((per_page, (page - 1) * per_page))
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub data: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl<T> Page<T> {
    pub fn new(data: Vec<T>, total: i64, query: PageQuery) -> Result<Self, ApiError> {
        let (page, per_page) = query.resolve()?;
        Ok(Self {
            data,
            total,
            page,
            per_page,
        })
    }
}
