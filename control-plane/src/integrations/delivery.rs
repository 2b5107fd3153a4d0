//! The delivery loop: leases due deliveries from the outbox and POSTs each, signed, to its
//! endpoint. At least once (a lease that expires mid-request is taken again), in order
//! per call (the claim holds back a call's later events until its earlier ones are
//! settled), retried with doubling waits, then `failed` once the give-up window has
//! passed. Every request has a timeout and every endpoint a cap on requests in flight,
//! and the loop runs beside the engine, never inside it: a slow or dead endpoint costs
//! its own deliveries time and nothing else.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{signature, target};
use crate::config::WebhookSettings;
use crate::crypto::SecretBox;
use crate::db::webhooks::{self as store, ClaimLimits, Leased};
use crate::engine::Clock;

/// One replica's delivery loop. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Deliverer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: PgPool,
    clock: Arc<dyn Clock>,
    secrets: Arc<SecretBox>,
    settings: WebhookSettings,
    http: reqwest::Client,
    /// Bounds this replica's requests in flight, all endpoints together.
    permits: Arc<Semaphore>,
    /// Names this replica's leases.
    owner: String,
}

impl Deliverer {
    pub fn new(
        db: PgPool,
        clock: Arc<dyn Clock>,
        secrets: Arc<SecretBox>,
        settings: WebhookSettings,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.request_timeout_ms))
            // A redirect could send the signed body somewhere the customer did not name.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("outbound-calling-webhooks/1")
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                clock,
                secrets,
                permits: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
                settings,
                http,
                owner: format!("webhooks-{}", Uuid::new_v4()),
            }),
        })
    }

    /// Delivers until `stop` fires; requests in flight then finish on their own tasks
    /// (or, if the process ends first, their leases expire and another pass sends them).
    pub async fn run(self, stop: CancellationToken) {
        let mut ticks =
            tokio::time::interval(Duration::from_millis(self.inner.settings.poll_ms.max(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticks.tick() => {
                    if let Err(err) = self.pass().await {
                        tracing::error!(error = ?err, "webhook delivery pass failed");
                    }
                }
            }
        }
    }

    /// Leases what is due (as much as there are free request slots) and sends each on its
    /// own task. Returns how many were leased.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let inner = &self.inner;
        let free = inner.permits.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let limits = ClaimLimits {
            per_endpoint: inner.settings.per_endpoint_in_flight.max(1),
            batch: free as i64,
            lease_sec: inner.settings.lease_sec,
        };
        let leased = store::claim(&inner.db, &inner.owner, inner.clock.now(), &limits).await?;
        let count = leased.len();
        for delivery in leased {
            let permit = Arc::clone(&inner.permits).acquire_owned().await?;
            let me = self.clone();
            tokio::spawn(async move {
                let id = delivery.id;
                if let Err(err) = me.deliver(delivery).await {
                    // The lease expires and the delivery is tried again.
                    tracing::error!(delivery_id = id, error = ?err, "recording a delivery");
                }
                drop(permit);
            });
        }
        Ok(count)
    }

    #[tracing::instrument(skip_all, fields(delivery_id = delivery.id, org_id = %delivery.org_id))]
    async fn deliver(&self, delivery: Leased) -> anyhow::Result<()> {
        let inner = &self.inner;
        let secret = inner.secrets.open(&delivery.secret_enc)?;
        let body = serde_json::to_vec(&json!({
            "id": delivery.event_id,
            "type": delivery.event_type,
            "createdAt": delivery.created_at,
            "organizationId": delivery.org_id,
            "data": delivery.data,
        }))?;
        let sent = match target::check(&delivery.url, inner.settings.allow_private_targets).await {
            Ok(()) => {
                send(
                    &inner.http,
                    &delivery.url,
                    secret.expose_secret(),
                    delivery.event_id,
                    body,
                )
                .await
            }
            Err(refused) => Err(refused),
        };
        let now = inner.clock.now();
        match sent {
            Ok(status) if (200..300).contains(&status) => {
                store::succeeded(&inner.db, delivery.id, &inner.owner, status, now).await?
            }
            outcome => {
                let (status, error) = match outcome {
                    Ok(status) => (Some(status), format!("the endpoint answered {status}")),
                    Err(err) => (None, err),
                };
                let retry_at = next_attempt(&inner.settings, &delivery, now);
                store::attempt_failed(
                    &inner.db,
                    delivery.id,
                    &inner.owner,
                    status,
                    &error,
                    retry_at,
                )
                .await?;
                if retry_at.is_none() {
                    tracing::warn!(attempts = delivery.attempts, %error, "webhook delivery failed for good");
                    store::share_window(&inner.db, delivery.id).await?;
                }
            }
        }
        Ok(())
    }
}

/// POSTs a signed body; the HTTP status, or why there was none.
pub(super) async fn send(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    event_id: Uuid,
    body: Vec<u8>,
) -> Result<i32, String> {
    let response = post_signed(http, url, secret, event_id, body, None).await?;
    Ok(i32::from(response.status().as_u16()))
}

/// POSTs `body` signed at the wall clock's time now (the receiver checks the replay
/// window against its own real clock, whatever clock the engine runs on).
pub(super) async fn post_signed(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    event_id: Uuid,
    body: Vec<u8>,
    timeout: Option<Duration>,
) -> Result<reqwest::Response, String> {
    let t = Utc::now().timestamp();
    let mut request = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(signature::ID_HEADER, event_id.to_string())
        .header(signature::HEADER, signature::sign(secret, t, &body))
        .body(body);
    if let Some(timeout) = timeout {
        request = request.timeout(timeout);
    }
    request.send().await.map_err(|err| {
        if err.is_timeout() {
            "the endpoint did not answer in time".to_string()
        } else if err.is_connect() {
            "cannot connect to the endpoint".to_string()
        } else {
            format!("the request failed: {err}")
        }
    })
}

/// When to try again after the attempt just made, or `None` to give up: the wait doubles
/// from `first_retry_sec` up to `max_retry_sec`, and nothing is tried past
/// `give_up_after_sec` from the first attempt (the last try lands on that mark).
fn next_attempt(
    settings: &WebhookSettings,
    delivery: &Leased,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let first = delivery.first_attempt_at.unwrap_or(now);
    let deadline = first + seconds(settings.give_up_after_sec);
    if now >= deadline {
        return None;
    }
    let doublings = (delivery.attempts.max(1) - 1).min(40);
    let wait = (settings.first_retry_sec * 2f64.powi(doublings)).min(settings.max_retry_sec);
    Some((now + seconds(wait)).min(deadline))
}

fn seconds(s: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((s * 1000.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn delivery(attempts: i32, first: DateTime<Utc>) -> Leased {
        Leased {
            id: 1,
            attempts,
            first_attempt_at: Some(first),
            url: String::new(),
            secret_enc: Vec::new(),
            event_id: Uuid::nil(),
            org_id: Uuid::nil(),
            event_type: String::new(),
            data: json!({}),
            created_at: first,
        }
    }

    #[test]
    fn waits_double_up_to_the_cap_and_stop_after_a_day() {
        let s = Settings::defaults("postgres://unused").unwrap().webhooks;
        let t0 = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let wait = |attempts, now: DateTime<Utc>| {
            next_attempt(&s, &delivery(attempts, t0), now).map(|at| (at - now).num_seconds())
        };
        assert_eq!(wait(1, t0), Some(10));
        assert_eq!(wait(2, t0), Some(20));
        assert_eq!(wait(5, t0), Some(160));
        assert_eq!(wait(20, t0), Some(3600));
        // Near the end the last try lands on the 24-hour mark, and after it: failed.
        let late = t0 + chrono::Duration::hours(24) - chrono::Duration::seconds(30);
        assert_eq!(wait(30, late), Some(30));
        assert_eq!(wait(31, t0 + chrono::Duration::hours(24)), None);
    }
}
