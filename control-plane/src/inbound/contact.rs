//! The contact a caller's (or texter's) number finds, and the variables an inbound call's
//! prompt is filled from: the contact's own, its name and phone, and what the last call
//! with it came to, so an assistant can pick up where the last conversation ended.

use serde_json::{Map, Value};
use shared::PhoneNumber;
use sqlx::PgPool;
use uuid::Uuid;

/// The organization's newest contact with this number (a number may sit in several lists).
#[derive(Debug, Clone)]
pub struct FoundContact {
    pub id: Uuid,
    pub variables: Value,
}

pub async fn find(db: &PgPool, org: Uuid, phone: &str) -> sqlx::Result<Option<FoundContact>> {
    let row = sqlx::query!(
        "select id, name, phone, variables from contacts
         where org_id = $1 and phone = $2 order by created_at desc, id desc limit 1",
        org,
        phone
    )
    .fetch_optional(db)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut variables = match row.variables {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Some(name) = row.name {
        variables.insert("name".into(), Value::String(name));
    }
    variables.insert("phone".into(), Value::String(row.phone));
    let last = sqlx::query!(
        "select outcome, created_at from calls
         where org_id = $1 and contact_id = $2 order by created_at desc limit 1",
        org,
        row.id
    )
    .fetch_optional(db)
    .await?;
    if let Some(last) = last {
        variables.insert(
            "last_call_at".into(),
            Value::String(last.created_at.to_rfc3339()),
        );
        if let Some(outcome) = last.outcome {
            variables.insert("last_call_outcome".into(), Value::String(outcome));
        }
    }
    Ok(Some(FoundContact {
        id: row.id,
        variables: Value::Object(variables),
    }))
}

/// What an inbound call from `from` knows of its caller: the contact its number finds and
/// the prompt's variables (the contact's, else only the caller's `phone`). A withheld
/// caller id ("anonymous") finds no contact.
pub async fn of_caller(
    db: &PgPool,
    org: Uuid,
    from: &str,
) -> sqlx::Result<(Option<FoundContact>, Value)> {
    let found = match PhoneNumber::parse(from, None) {
        Ok(phone) => find(db, org, phone.as_str()).await?,
        Err(_) => None,
    };
    let variables = match &found {
        Some(contact) => contact.variables.clone(),
        None => Value::Object(Map::from_iter([(
            "phone".to_string(),
            Value::String(from.to_string()),
        )])),
    };
    Ok((found, variables))
}
