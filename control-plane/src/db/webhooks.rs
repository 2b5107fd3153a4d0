//! Customer webhooks: endpoints, the organization's event log and the delivery outbox.
//! Customer-facing functions filter by `org_id`; the delivery loop's work across
//! organizations (claim, record) is keyed by delivery ids it leased.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What is stored for a new endpoint.
pub struct NewEndpoint<'a> {
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub event_types: &'a [String],
    pub secret_enc: &'a [u8],
    pub enabled: bool,
}

pub async fn insert_endpoint(
    db: &PgPool,
    org_id: Uuid,
    new: &NewEndpoint<'_>,
) -> sqlx::Result<EndpointRow> {
    sqlx::query_as!(
        EndpointRow,
        "insert into webhook_endpoints (id, org_id, url, description, event_types, secret_enc, enabled)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, url, description, event_types, enabled, created_at, updated_at",
        Uuid::now_v7(),
        org_id,
        new.url,
        new.description,
        new.event_types,
        new.secret_enc,
        new.enabled
    )
    .fetch_one(db)
    .await
}

pub async fn list_endpoints(
    db: &PgPool,
    org_id: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<EndpointRow>, i64)> {
    let rows = sqlx::query_as!(
        EndpointRow,
        "select id, url, description, event_types, enabled, created_at, updated_at
         from webhook_endpoints where org_id = $1 order by created_at limit $2 offset $3",
        org_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        "select count(*) as \"n!\" from webhook_endpoints where org_id = $1",
        org_id
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

pub async fn get_endpoint(
    db: &PgPool,
    org_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as!(
        EndpointRow,
        "select id, url, description, event_types, enabled, created_at, updated_at
         from webhook_endpoints where org_id = $1 and id = $2",
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// Replaces the endpoint's editable fields (the secret stays).
pub async fn update_endpoint(
    db: &PgPool,
    org_id: Uuid,
    id: Uuid,
    url: &str,
    description: Option<&str>,
    event_types: &[String],
    enabled: bool,
) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as!(
        EndpointRow,
        "update webhook_endpoints set url = $3, description = $4, event_types = $5, enabled = $6
         where org_id = $1 and id = $2
         returning id, url, description, event_types, enabled, created_at, updated_at",
        org_id,
        id,
        url,
        description,
        event_types,
        enabled
    )
    .fetch_optional(db)
    .await
}

/// Deletes the endpoint and its deliveries; whether it existed.
pub async fn delete_endpoint(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from webhook_endpoints where org_id = $1 and id = $2",
        org_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The sealed secret of one of the organization's endpoints.
pub async fn endpoint_secret(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar!(
        "select secret_enc from webhook_endpoints where org_id = $1 and id = $2",
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// One line of an endpoint's delivery log.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub call_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The endpoint's deliveries, newest event first, optionally of one state.
pub async fn list_deliveries(
    db: &PgPool,
    org_id: Uuid,
    endpoint_id: Uuid,
    state: Option<&str>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<DeliveryRow>, i64)> {
    let rows = sqlx::query_as!(
        DeliveryRow,
        "select d.id, d.event_id, e.type as event_type, e.call_id, e.campaign_id, d.state,
                d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error,
                d.delivered_at, e.created_at
         from webhook_deliveries d join org_events e on e.id = d.event_id
         where d.org_id = $1 and d.endpoint_id = $2 and ($3::text is null or d.state = $3)
         order by d.event_seq desc limit $4 offset $5",
        org_id,
        endpoint_id,
        state,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        "select count(*) as \"n!\" from webhook_deliveries
         where org_id = $1 and endpoint_id = $2 and ($3::text is null or state = $3)",
        org_id,
        endpoint_id,
        state
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

/// Queues a delivery again from its first attempt (a new 24-hour window); whether the
/// delivery exists. One still in flight is left alone: it is being delivered.
pub async fn redeliver(
    db: &PgPool,
    org_id: Uuid,
    endpoint_id: Uuid,
    delivery_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<DeliveryRow>> {
    sqlx::query!(
        "update webhook_deliveries
         set state = 'pending', attempts = 0, next_attempt_at = null, first_attempt_at = null,
             delivered_at = null
         where org_id = $1 and endpoint_id = $2 and id = $3
           and not (state = 'pending' and lease_expires_at > $4)",
        org_id,
        endpoint_id,
        delivery_id,
        now
    )
    .execute(db)
    .await?;
    sqlx::query_as!(
        DeliveryRow,
        "select d.id, d.event_id, e.type as event_type, e.call_id, e.campaign_id, d.state,
                d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error,
                d.delivered_at, e.created_at
         from webhook_deliveries d join org_events e on e.id = d.event_id
         where d.org_id = $1 and d.endpoint_id = $2 and d.id = $3",
        org_id,
        endpoint_id,
        delivery_id
    )
    .fetch_optional(db)
    .await
}

/// A delivery this replica leased, with what it takes to send it.
#[derive(Debug, Clone)]
pub struct Leased {
    pub id: i64,
    pub attempts: i32,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub url: String,
    pub secret_enc: Vec<u8>,
    pub event_id: Uuid,
    pub org_id: Uuid,
    pub event_type: String,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

/// How the claim shares the work out.
pub struct ClaimLimits {
    /// Deliveries in flight to one endpoint at once.
    pub per_endpoint: i64,
    /// Deliveries to lease now.
    pub batch: i64,
    /// How long a lease holds.
    pub lease_sec: f64,
}

/// Leases due deliveries: pending, due, not leased, enabled endpoint, no earlier pending
/// delivery of the same call or campaign to the same endpoint (order), and no more per
/// endpoint than `per_endpoint` minus those already in flight. `SKIP LOCKED` keeps
/// replicas apart; a lease that expires (a crash mid-request) is taken again, which is
/// what makes delivery at-least-once.
pub async fn claim(
    db: &PgPool,
    owner: &str,
    now: DateTime<Utc>,
    limits: &ClaimLimits,
) -> sqlx::Result<Vec<Leased>> {
    sqlx::query_as!(
        Leased,
        r#"with due as (
               select d.id, d.endpoint_id, d.event_seq
               from webhook_deliveries d
               join webhook_endpoints w on w.id = d.endpoint_id and w.enabled
               where d.state = 'pending'
                 and (d.next_attempt_at is null or d.next_attempt_at <= $1)
                 and (d.lease_expires_at is null or d.lease_expires_at <= $1)
                 and (d.order_key is null or not exists (
                     select 1 from webhook_deliveries p
                     where p.endpoint_id = d.endpoint_id and p.order_key = d.order_key
                       and p.state = 'pending' and p.event_seq < d.event_seq))
           ),
           busy as (
               select l.endpoint_id, count(*) as n from webhook_deliveries l
               where l.state = 'pending' and l.lease_expires_at > $1
               group by l.endpoint_id
           ),
           ranked as (
               select due.id,
                      row_number() over (partition by due.endpoint_id order by due.event_seq) as rank,
                      coalesce(busy.n, 0) as busy
               from due left join busy on busy.endpoint_id = due.endpoint_id
           ),
           picked as (
               select d.id from webhook_deliveries d join ranked r on r.id = d.id
               where r.rank + r.busy <= $2
               order by d.event_seq
               limit $3
               for update of d skip locked
           )
           update webhook_deliveries d
           set lease_owner = $4, lease_expires_at = $1 + make_interval(secs => $5),
               attempts = d.attempts + 1, first_attempt_at = coalesce(d.first_attempt_at, $1),
               last_attempt_at = $1
           from picked, webhook_endpoints w, org_events e
           where d.id = picked.id and w.id = d.endpoint_id and e.id = d.event_id
           returning d.id, d.attempts, d.first_attempt_at, w.url, w.secret_enc, e.id as event_id,
                     e.org_id, e.type as event_type, e.data, e.created_at"#,
        now,
        limits.per_endpoint,
        limits.batch,
        owner,
        limits.lease_sec
    )
    .fetch_all(db)
    .await
}

/// The endpoint took the delivery (2xx).
pub async fn succeeded(
    db: &PgPool,
    id: i64,
    owner: &str,
    status: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update webhook_deliveries
         set state = 'succeeded', delivered_at = $4, last_status = $3, last_error = null,
             lease_owner = null, lease_expires_at = null, next_attempt_at = null
         where id = $1 and lease_owner = $2 and state = 'pending'",
        id,
        owner,
        status,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The attempt failed: try again at `retry_at`, or mark it `failed` when that is `None`.
pub async fn attempt_failed(
    db: &PgPool,
    id: i64,
    owner: &str,
    status: Option<i32>,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update webhook_deliveries
         set state = case when $5::timestamptz is null then 'failed' else 'pending' end,
             next_attempt_at = $5, last_status = $3, last_error = $4,
             lease_owner = null, lease_expires_at = null
         where id = $1 and lease_owner = $2 and state = 'pending'",
        id,
        owner,
        status,
        error,
        retry_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// After a delivery failed for good: the later deliveries of the same call (or campaign)
/// to the same endpoint, which waited behind it, share its window instead of each
/// starting a day of their own; each gets its one try.
pub async fn share_window(db: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update webhook_deliveries d set first_attempt_at = f.first_attempt_at
         from webhook_deliveries f
         where f.id = $1 and f.order_key is not null and d.endpoint_id = f.endpoint_id
           and d.order_key = f.order_key and d.state = 'pending' and d.first_attempt_at is null",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}
