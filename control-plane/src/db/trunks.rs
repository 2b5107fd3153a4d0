//! Trunks. Secrets arrive here already sealed; this module never sees them in plain text.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::trunk::TrunkSpec;

#[derive(Debug, Clone)]
pub struct TrunkRow {
    pub id: Uuid,
    pub name: String,
    pub provider: String,
    pub mode: String,
    pub numbers: Vec<String>,
    pub address: Option<String>,
    pub auth_username: Option<String>,
    pub has_auth_password: bool,
    pub calls_per_second: f64,
    pub account_sid: Option<String>,
    pub has_auth_token: bool,
    pub livekit_trunk_id: Option<String>,
    /// Set when the control plane provisioned the trunk at Twilio.
    pub twilio_trunk_sid: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A write-only secret as the update statement takes it: keep the stored value, or
/// replace it with `sealed` (`None` removes it).
#[derive(Debug, Clone)]
pub struct SealedChange {
    pub keep: bool,
    pub sealed: Option<Vec<u8>>,
}

/// Why an update did not happen.
#[derive(Debug)]
pub enum UpdateError {
    NotFound,
    /// The mode would change while campaigns (which must match it) use the trunk.
    ModeInUse,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for UpdateError {
    fn from(err: sqlx::Error) -> Self {
        UpdateError::Db(err)
    }
}

/// Where else a new trunk exists, stored with it in the same statement.
#[derive(Debug, Clone, Default)]
pub struct Remote<'a> {
    pub livekit_trunk_id: Option<&'a str>,
    pub twilio: Option<TwilioRefs<'a>>,
}

pub async fn insert<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
    org_id: Uuid,
    spec: &TrunkSpec,
    auth_password: Option<Vec<u8>>,
    auth_token: Option<Vec<u8>>,
    remote: Remote<'_>,
) -> sqlx::Result<TrunkRow> {
    let twilio = remote.twilio;
    sqlx::query_as!(
        TrunkRow,
        r#"insert into trunks (id, org_id, name, provider, mode, numbers, address, auth_username,
                               auth_password_enc, calls_per_second, account_sid, auth_token_enc,
                               livekit_trunk_id, twilio_trunk_sid, twilio_credential_list_sid,
                               twilio_account_sid, twilio_auth_token_enc)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           returning id, name, provider, mode, numbers, address, auth_username,
                     auth_password_enc is not null as "has_auth_password!", calls_per_second,
                     account_sid, auth_token_enc is not null as "has_auth_token!",
                     livekit_trunk_id, twilio_trunk_sid, created_at, updated_at"#,
        id,
        org_id,
        spec.name,
        spec.provider,
        spec.mode.as_str(),
        &spec.numbers,
        spec.address,
        spec.auth_username,
        auth_password,
        spec.calls_per_second,
        spec.account_sid,
        auth_token,
        remote.livekit_trunk_id,
        twilio.as_ref().map(|t| t.trunk_sid),
        twilio.as_ref().map(|t| t.credential_list_sid),
        twilio.as_ref().map(|t| t.account_sid),
        twilio.map(|t| t.auth_token_enc)
    )
    .fetch_one(db)
    .await
}

pub async fn get(db: &PgPool, org_id: Uuid, id: Uuid) -> sqlx::Result<Option<TrunkRow>> {
    sqlx::query_as!(
        TrunkRow,
        r#"select id, name, provider, mode, numbers, address, auth_username,
                  auth_password_enc is not null as "has_auth_password!", calls_per_second,
                  account_sid, auth_token_enc is not null as "has_auth_token!",
                  livekit_trunk_id, twilio_trunk_sid, created_at, updated_at
           from trunks where org_id = $1 and id = $2"#,
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn list(
    db: &PgPool,
    org_id: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<TrunkRow>, i64)> {
    let rows = sqlx::query_as!(
        TrunkRow,
        r#"select id, name, provider, mode, numbers, address, auth_username,
                  auth_password_enc is not null as "has_auth_password!", calls_per_second,
                  account_sid, auth_token_enc is not null as "has_auth_token!",
                  livekit_trunk_id, twilio_trunk_sid, created_at, updated_at
           from trunks where org_id = $1
           order by created_at desc, id desc limit $2 offset $3"#,
        org_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from trunks where org_id = $1"#,
        org_id
    )
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

/// Replaces the trunk's fields, inside the caller's transaction. The row lock taken first means a campaign being created
/// (which takes a share lock on its trunk) cannot slip in between the check and the write.
pub async fn update(
    conn: &mut sqlx::PgConnection,
    org_id: Uuid,
    id: Uuid,
    spec: &TrunkSpec,
    auth_password: SealedChange,
    auth_token: SealedChange,
) -> Result<TrunkRow, UpdateError> {
    let current = sqlx::query_scalar!(
        "select mode from trunks where org_id = $1 and id = $2 for update",
        org_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(UpdateError::NotFound)?;
    if current != spec.mode.as_str() {
        let used = sqlx::query_scalar!(
            r#"select exists(select 1 from campaigns where org_id = $1 and trunk_id = $2) as "used!""#,
            org_id,
            id
        )
        .fetch_one(&mut *conn)
        .await?;
        if used {
            return Err(UpdateError::ModeInUse);
        }
    }
    let row = sqlx::query_as!(
        TrunkRow,
        r#"update trunks
           set name = $3, provider = $4, mode = $5, numbers = $6, address = $7,
               auth_username = $8,
               auth_password_enc = case when $9 then auth_password_enc else $10 end,
               calls_per_second = $11, account_sid = $12,
               auth_token_enc = case when $13 then auth_token_enc else $14 end
           where org_id = $1 and id = $2
           returning id, name, provider, mode, numbers, address, auth_username,
                     auth_password_enc is not null as "has_auth_password!", calls_per_second,
                     account_sid, auth_token_enc is not null as "has_auth_token!",
                     livekit_trunk_id, twilio_trunk_sid, created_at, updated_at"#,
        org_id,
        id,
        spec.name,
        spec.provider,
        spec.mode.as_str(),
        &spec.numbers,
        spec.address,
        spec.auth_username,
        auth_password.keep,
        auth_password.sealed,
        spec.calls_per_second,
        spec.account_sid,
        auth_token.keep,
        auth_token.sealed
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(row)
}

/// Deletes the trunk; `Ok(false)` when there is none. Fails with a foreign-key violation
/// while a campaign still uses it.
pub async fn delete<'e>(
    db: impl sqlx::PgExecutor<'e>,
    org_id: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from trunks where org_id = $1 and id = $2",
        org_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// What it takes to register a trunk at LiveKit again, or to remove it from LiveKit and
/// Twilio: the sealed secrets and the ids elsewhere.
#[derive(Debug, Clone)]
pub struct ProvisioningRow {
    pub name: String,
    pub mode: String,
    pub numbers: Vec<String>,
    pub address: Option<String>,
    pub auth_username: Option<String>,
    pub auth_password_enc: Option<Vec<u8>>,
    pub livekit_trunk_id: Option<String>,
    pub twilio_trunk_sid: Option<String>,
    pub twilio_credential_list_sid: Option<String>,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token_enc: Option<Vec<u8>>,
}

/// The trunk's provisioning state, its row locked until the transaction ends (inside
/// one; a plain read otherwise).
pub async fn provisioning<'e>(
    db: impl sqlx::PgExecutor<'e>,
    org_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ProvisioningRow>> {
    sqlx::query_as!(
        ProvisioningRow,
        r#"select name, mode, numbers, address, auth_username, auth_password_enc,
                  livekit_trunk_id, twilio_trunk_sid, twilio_credential_list_sid,
                  twilio_account_sid, twilio_auth_token_enc
           from trunks where org_id = $1 and id = $2 for update"#,
        org_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// Records the trunk's id at LiveKit (`None` once it is removed there).
pub async fn set_livekit_trunk_id<'e>(
    db: impl sqlx::PgExecutor<'e>,
    org_id: Uuid,
    id: Uuid,
    livekit_trunk_id: Option<&str>,
) -> sqlx::Result<TrunkRow> {
    sqlx::query_as!(
        TrunkRow,
        r#"update trunks set livekit_trunk_id = $3 where org_id = $1 and id = $2
           returning id, name, provider, mode, numbers, address, auth_username,
                     auth_password_enc is not null as "has_auth_password!", calls_per_second,
                     account_sid, auth_token_enc is not null as "has_auth_token!",
                     livekit_trunk_id, twilio_trunk_sid, created_at, updated_at"#,
        org_id,
        id,
        livekit_trunk_id
    )
    .fetch_one(db)
    .await
}

/// What the control plane created at Twilio for a trunk, and with which account.
#[derive(Debug, Clone)]
pub struct TwilioRefs<'a> {
    pub trunk_sid: &'a str,
    pub credential_list_sid: &'a str,
    pub account_sid: &'a str,
    pub auth_token_enc: Vec<u8>,
}
