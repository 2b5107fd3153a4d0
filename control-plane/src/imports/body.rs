//! Byte limits for bodies we read as streams. `DefaultBodyLimit` only guards extractors
//! that buffer; a raw `Body::into_data_stream` would happily read forever, so the upload
//! routes count bytes themselves as they arrive.

use std::io;

use axum::body::{Body, Bytes};
use futures::{Stream, StreamExt};

use crate::error::ApiError;

/// The stream went past its limit. Travels inside an `io::Error` through the CSV reader
/// and is recognised again by [`too_large`].
#[derive(Debug, thiserror::Error)]
#[error("upload is larger than {limit} bytes")]
pub struct TooLarge {
    pub limit: usize,
}

/// Passes `stream` through, failing it with [`TooLarge`] once more than `limit` bytes
/// have gone by.
pub fn limited<S>(stream: S, limit: usize) -> impl Stream<Item = io::Result<Bytes>> + Send
where
    S: Stream<Item = io::Result<Bytes>> + Send,
{
    let mut seen = 0usize;
    stream.map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            Err(io::Error::other(TooLarge { limit }))
        } else {
            Ok(chunk)
        }
    })
}

/// The limit carried by `err`, if it is a [`TooLarge`].
pub fn too_large(err: &io::Error) -> Option<usize> {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<TooLarge>())
        .map(|too_large| too_large.limit)
}

/// Reads a whole (small) body, refusing it past `limit` with a 413.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let stream = limited(
        body.into_data_stream().map(|r| r.map_err(io::Error::other)),
        limit,
    );
    futures::pin_mut!(stream);
    let mut buffer = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => buffer.extend_from_slice(&chunk),
            Err(err) => {
                return Err(match too_large(&err) {
                    Some(limit) => ApiError::PayloadTooLarge(limit),
                    None => ApiError::BadRequest(format!("could not read the body: {err}")),
                })
            }
        }
    }
    Ok(Bytes::from(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stream_fails_as_soon_as_it_passes_the_limit() {
        let chunks = futures::stream::iter(
            ["abcd", "efgh", "ij"].map(|s| Ok::<_, io::Error>(Bytes::from_static(s.as_bytes()))),
        );
        let results: Vec<_> = limited(chunks, 9).collect().await;
        assert!(results[0].is_ok() && results[1].is_ok());
        let err = results[2].as_ref().unwrap_err();
        assert_eq!(too_large(err), Some(9));
    }

    #[tokio::test]
    async fn a_body_at_the_limit_is_read_whole() {
        let bytes = read_limited(Body::from("12345"), 5).await.unwrap();
        assert_eq!(&bytes[..], b"12345");
        let err = read_limited(Body::from("123456"), 5).await.unwrap_err();
        assert!(matches!(err, ApiError::PayloadTooLarge(5)));
    }
}
