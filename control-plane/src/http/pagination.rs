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
        // A page whose first row lies beyond what an SQL offset can hold is a client's
        // mistake, not an overflow (a panic in debug builds, a negative offset in release).
        offset(page, per_page)?;
        Ok((page, per_page))
    }

    /// SQL `limit` and `offset` for this page.
    pub fn limit_offset(self) -> Result<(i64, i64), ApiError> {
        let (page, per_page) = self.resolve()?;
        Ok((per_page, offset(page, per_page)?))
    }
}

/// The rows before `page`, or a 422 when that number does not fit an SQL offset.
fn offset(page: i64, per_page: i64) -> Result<i64, ApiError> {
    (page - 1)
        .checked_mul(per_page)
        .ok_or_else(|| ApiError::invalid("page", "is too large for this perPage"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn query(page: i64, per_page: i64) -> PageQuery {
        PageQuery {
            page: Some(page),
            per_page: Some(per_page),
        }
    }

    #[test]
    fn a_page_beyond_any_offset_is_refused_not_overflowed() {
        assert!(query(i64::MAX, 50).limit_offset().is_err());
        assert!(query(i64::MAX, 50).resolve().is_err());
        assert!(query(i64::MAX / 500 + 2, MAX_PER_PAGE)
            .limit_offset()
            .is_err());
    }

    #[test]
    fn ordinary_pages_give_their_offset() {
        assert_eq!(query(1, 50).limit_offset().unwrap(), (50, 0));
        assert_eq!(query(3, 20).limit_offset().unwrap(), (20, 40));
        assert_eq!(
            query(i64::MAX, 1).limit_offset().unwrap(),
            (1, i64::MAX - 1)
        );
    }
}
