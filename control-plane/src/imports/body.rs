//! Byte limits for bodies we read as streams. `DefaultBodyLimit` only guards extractors
//! that buffer; a raw `Body::into_data_stream` would happily read forever, so the upload
//! routes count bytes themselves as they arrive. A second limit caps a single CSV record,
//! which the CSV reader would otherwise buffer whole, however long.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::body::{Body, Bytes};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, ReadBuf};

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

/// Longest CSV record accepted. Real contact rows are a few hundred bytes; anything near
/// this is a file that is not CSV (or a quote that never closes).
pub const MAX_RECORD_BYTES: u64 = 1024 * 1024;

/// One record went past [`MAX_RECORD_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("a row is longer than {MAX_RECORD_BYTES} bytes")]
pub struct RecordTooLong;

/// Counts the bytes the CSV reader pulls and fails once more than [`MAX_RECORD_BYTES`]
/// arrive without [`RecordGuard::record_done`] being called, so one endless record
/// cannot take the server's memory. Precise to the reader's buffer (8 KiB).
#[derive(Debug)]
pub struct RecordGuard<R> {
    inner: R,
    read: u64,
    record_start: u64,
}

impl<R> RecordGuard<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            read: 0,
            record_start: 0,
        }
    }

    /// The reader produced a record: the next one starts here.
    pub fn record_done(&mut self) {
        self.record_start = self.read;
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for RecordGuard<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Checked before reading: a read that fails must not have filled anything.
        if self.read - self.record_start > MAX_RECORD_BYTES {
            return Poll::Ready(Err(io::Error::other(RecordTooLong)));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        self.read += (buf.filled().len() - before) as u64;
        Poll::Ready(Ok(()))
    }
}

/// Whether `err` is a [`RecordTooLong`].
pub fn record_too_long(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.is::<RecordTooLong>())
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
                    Some(limit) => ApiError::PayloadTooLarge(Some(limit)),
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
    async fn an_endless_record_fails_but_many_short_ones_do_not() {
        use tokio::io::AsyncReadExt;

        let long = vec![b'x'; MAX_RECORD_BYTES as usize + 10_000];
        let mut guard = RecordGuard::new(&long[..]);
        let mut sink = Vec::new();
        let err = guard.read_to_end(&mut sink).await.unwrap_err();
        assert!(record_too_long(&err));

        let mut guard = RecordGuard::new(&long[..]);
        let mut chunk = vec![0; 4096];
        while guard.read(&mut chunk).await.unwrap() > 0 {
            guard.record_done();
        }
    }

    #[tokio::test]
    async fn a_body_at_the_limit_is_read_whole() {
        let bytes = read_limited(Body::from("12345"), 5).await.unwrap();
        assert_eq!(&bytes[..], b"12345");
        let err = read_limited(Body::from("123456"), 5).await.unwrap_err();
        assert!(matches!(err, ApiError::PayloadTooLarge(Some(5))));
    }
}
