//! `GET /api/v1/events`: the organization's live event stream as server-sent events.
//!
//! Events are rows of `live_events`, written by database triggers in the same transaction
//! as the change they describe (migration `20261206000040_live_events.sql`): a call created
//! or changing status, outcome, answer, end or cost (`call.created`, `call.updated`), a
//! campaign created or changing status (`campaign.created`, `campaign.updated`), each
//! transcript line a worker reports (`call.transcript`), and each supervision action on a
//! call, refused ones too (`call.supervision`: the action, its detail, `ok`/`error` and
//! the acting `userId` or `apiKeyId`; migration `20261208000100`). Each SSE message has `id:` (the
//! event id, `txid-seq`), `event:` (the kind) and `data:` (JSON: `kind`, `at`, and the
//! kind's fields).
//!
//! Resuming: a client that reconnects with `Last-Event-ID` (browsers' `EventSource` does
//! so by itself), or passes `?after=<id>`, gets every event after that one, none missed
//! and none twice. The stream is read in (txid, seq) order and only below the oldest
//! transaction still running, so an event whose transaction commits late can never land
//! behind a position already passed (the migration explains why). A new client starts at
//! "now". Only the caller's organization's events are ever read.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures::stream::{self, Stream};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgPool;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiQuery;
use crate::state::AppState;

/// How often an open stream looks for new events.
const POLL: Duration = Duration::from_millis(400);
/// Most events read per look; a full batch is followed by another look at once.
const BATCH: i64 = 200;

/// Without the request timeout: a stream stays open as long as its client wants.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this event id (as `Last-Event-ID` does; the header wins).
    pub after: Option<String>,
}

/// A position in the stream: the writing transaction's id, then the row's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub txid: i64,
    pub seq: i64,
}

impl Cursor {
    /// Parses an event id `txid-seq`.
    pub fn parse(id: &str) -> Option<Self> {
        let (txid, seq) = id.trim().split_once('-')?;
        Some(Cursor {
            txid: txid.parse().ok().filter(|v: &i64| *v >= 0)?,
            seq: seq.parse().ok().filter(|v: &i64| *v >= 0)?,
        })
    }

    pub fn id(&self) -> String {
        format!("{}-{}", self.txid, self.seq)
    }
}

/// One event as read from the table.
#[derive(Debug, Clone)]
pub struct OrgEvent {
    pub cursor: Cursor,
    pub kind: String,
    pub payload: Value,
    pub at: DateTime<Utc>,
}

/// Where a new client starts: before every transaction still running, so nothing that
/// commits after it connected is missed.
pub async fn now(db: &PgPool) -> sqlx::Result<Cursor> {
    let txid = sqlx::query_scalar!(
        r#"select pg_snapshot_xmin(pg_current_snapshot())::text::int8 as "txid!""#
    )
    .fetch_one(db)
    .await?;
    // (xmin, 0) is before every row of transaction xmin (sequences start at 1).
    Ok(Cursor { txid, seq: 0 })
}

/// The organization's settled events after `after`, oldest first, at most `limit`.
pub async fn read_after(
    db: &PgPool,
    org_id: Uuid,
    after: Cursor,
    limit: i64,
) -> sqlx::Result<Vec<OrgEvent>> {
    let rows = sqlx::query!(
        r#"select id, txid::text::int8 as "txid!", kind, payload, created_at
           from live_events
           where org_id = $1
             and (txid, id) > ($2::text::xid8, $3)
             and txid < pg_snapshot_xmin(pg_current_snapshot())
           order by txid, id
           limit $4"#,
        org_id,
        after.txid.to_string(),
        after.seq,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OrgEvent {
            cursor: Cursor {
                txid: r.txid,
                seq: r.id,
            },
            kind: r.kind,
            payload: r.payload,
            at: r.created_at,
        })
        .collect())
}

/// The organization's call and campaign changes as server-sent events.
///
/// Each message: `id` (resume with `Last-Event-ID` or `?after=`), `event` (`call.created`,
/// `call.updated`, `call.transcript`, `call.supervision`, `campaign.created`,
/// `campaign.updated`) and `data`
/// (JSON with `kind`, `at` and the fields of the call, campaign or transcript line).
/// A comment line every 15 s keeps idle connections open.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses(
        (status = 200, content_type = "text/event-stream",
            description = "Server-sent events, ids `txid-seq`"),
        (status = 401, body = ErrorBody),
        (status = 422, description = "An unreadable event id", body = ErrorBody),
    ))]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(query.after);
    let start = match resume.as_deref().filter(|id| !id.trim().is_empty()) {
        Some(id) => Cursor::parse(id)
            .ok_or_else(|| ApiError::invalid("after", "must be an event id such as 1234-56"))?,
        None => now(&state.db).await?,
    };
    let db = state.db.clone();
    let org = caller.org_id;
    let initial = (start, VecDeque::<OrgEvent>::new(), false);
    let stream = stream::unfold(initial, move |(mut cursor, mut queue, mut full)| {
        let db = db.clone();
        async move {
            loop {
                if let Some(event) = queue.pop_front() {
                    cursor = event.cursor;
                    let mut data = event.payload;
                    if let Some(object) = data.as_object_mut() {
                        object.insert("kind".into(), Value::String(event.kind.clone()));
                        object.insert("at".into(), Value::String(event.at.to_rfc3339()));
                    }
                    let message = Event::default()
                        .id(event.cursor.id())
                        .event(event.kind)
                        .data(data.to_string());
                    return Some((Ok(message), (cursor, queue, full)));
                }
                if !full {
                    tokio::time::sleep(POLL).await;
                }
                match read_after(&db, org, cursor, BATCH).await {
                    Ok(batch) => {
                        full = batch.len() as i64 == BATCH;
                        queue.extend(batch);
                    }
                    Err(error) => {
                        // The client reconnects with its last id and loses nothing.
                        tracing::warn!(%error, "reading events failed; closing the stream");
                        return None;
                    }
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn event_ids_round_trip_and_order() {
        let a = Cursor::parse("812-5").unwrap();
        assert_eq!(a.id(), "812-5");
        assert!(a < Cursor::parse("812-6").unwrap());
        assert!(a < Cursor::parse("813-1").unwrap());
        for bad in ["", "12", "a-1", "1-b", "-1-2", "1--2"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}
