//! The pre-dial check: before each dial of a campaign that has one, the customer's URL is
//! asked (signed like every webhook) whether the contact is still eligible. It answers
//! `{"eligible": true|false, "reason": "..."}`; a timeout, an error status or an unreadable
//! answer counts as the campaign's default. The engine records the verdict as one of the
//! attempt's decisions and skips the contact on a "no".

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::delivery::post_signed;
use super::target;
use crate::crypto::SecretBox;

/// The event type of the request's body.
pub const EVENT_TYPE: &str = "contact.pre_dial";

/// The customer's word on one contact, and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub eligible: bool,
    /// For the decision log: the answer's reason, or why the default applied.
    pub detail: String,
}

impl Verdict {
    /// The decision recorded for the attempt.
    pub fn decision(&self) -> &'static str {
        if self.eligible {
            "pre_dial_eligible"
        } else {
            "skipped_pre_dial"
        }
    }
}

/// Who is about to be dialed.
pub struct Candidate<'a> {
    pub org_id: Uuid,
    pub campaign_id: Uuid,
    pub attempt_id: Uuid,
    pub contact_id: Uuid,
    pub phone: &'a str,
    pub name: Option<&'a str>,
    /// This dial's number among the contact's attempts (1 for the first).
    pub attempt: i32,
}

/// Asks the campaign's pre-dial URL about `who`; `None` when the campaign has no check.
pub async fn ask(
    db: &PgPool,
    secrets: &SecretBox,
    who: &Candidate<'_>,
    now: DateTime<Utc>,
    allow_private: bool,
) -> anyhow::Result<Option<Verdict>> {
    let Some(check) = sqlx::query!(
        "select coalesce(p.url, e.url) as \"url!\", p.timeout_ms, p.default_eligible, e.secret_enc
         from campaign_pre_dial_checks p join webhook_endpoints e on e.id = p.endpoint_id
         where p.campaign_id = $1 and p.org_id = $2",
        who.campaign_id,
        who.org_id
    )
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let secret = secrets.open(&check.secret_enc)?;
    let id = Uuid::now_v7();
    let body = serde_json::to_vec(&json!({
        "id": id,
        "type": EVENT_TYPE,
        "createdAt": now,
        "organizationId": who.org_id,
        "data": {
            "campaignId": who.campaign_id,
            "attemptId": who.attempt_id,
            "contactId": who.contact_id,
            "phone": who.phone,
            "name": who.name,
            "attempt": who.attempt,
        },
    }))?;
    let timeout = Duration::from_millis(check.timeout_ms.max(1) as u64);
    let answer = match target::check(&check.url, allow_private).await {
        Ok(()) => {
            post_signed(
                client(),
                &check.url,
                secret.expose_secret(),
                id,
                body,
                Some(timeout),
            )
            .await
        }
        Err(refused) => Err(refused),
    };
    let answer = match answer {
        Ok(response) if response.status().is_success() => {
            // The body counts against the same timeout as the headers did.
            match tokio::time::timeout(timeout, response.json::<Value>()).await {
                Ok(Ok(body)) => read(&body),
                Ok(Err(_)) => Err("the answer is not JSON".to_string()),
                Err(_) => Err("the endpoint did not answer in time".to_string()),
            }
        }
        Ok(response) => Err(format!("the endpoint answered {}", response.status())),
        Err(err) => Err(err),
    };
    Ok(Some(answer.unwrap_or_else(|why| Verdict {
        eligible: check.default_eligible,
        detail: format!("default ({why})"),
    })))
}

/// `{"eligible": bool, "reason"?: string}`.
fn read(body: &Value) -> Result<Verdict, String> {
    let eligible = body["eligible"]
        .as_bool()
        .ok_or("the answer has no boolean \"eligible\"")?;
    let reason = body["reason"].as_str().unwrap_or("");
    Ok(Verdict {
        eligible,
        detail: format!(
            "answered {eligible}{}{reason}",
            if reason.is_empty() { "" } else { ": " }
        ),
    })
}

/// One client for every check: connections to a customer's endpoint are reused.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("outbound-calling-webhooks/1")
            .build()
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_strictly() {
        let yes = read(&json!({"eligible": true})).unwrap();
        assert!(yes.eligible);
        assert_eq!(yes.decision(), "pre_dial_eligible");
        let no = read(&json!({"eligible": false, "reason": "became a customer"})).unwrap();
        assert_eq!(no.decision(), "skipped_pre_dial");
        assert_eq!(no.detail, "answered false: became a customer");
        assert!(read(&json!({"eligible": "no"})).is_err());
        assert!(read(&json!([])).is_err());
    }
}
