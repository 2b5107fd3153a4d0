//! `/api/v1/trunks`: CRUD for SIP trunks and Twilio accounts. Passwords and tokens are
//! write-only: stored sealed, shown only as `hasAuthPassword` / `hasAuthToken`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::crypto::SecretBox;
use crate::db::trunks::{
    self, ProvisioningRow, Remote, SealedChange, TrunkRow, TwilioRefs, UpdateError,
};
use crate::dialer::ProviderAccount;
use crate::domain::trunk::{SecretChange, TrunkInput, TrunkMode, TrunkSpec};
use crate::error::{ApiError, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageQuery};
use crate::provisioning::livekit::OutboundTrunk;
use crate::provisioning::twilio::TwilioTrunkRef;
use crate::provisioning::twilio_error;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_trunk, list_trunks))
        .routes(routes!(get_trunk, update_trunk, delete_trunk))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrunkView {
    pub id: Uuid,
    pub name: String,
    pub provider: String,
    pub mode: TrunkMode,
    pub numbers: Vec<String>,
    pub address: Option<String>,
    pub auth_username: Option<String>,
    pub has_auth_password: bool,
    pub calls_per_second: f64,
    pub account_sid: Option<String>,
    pub has_auth_token: bool,
    /// The trunk's id at LiveKit once registered there; read-only.
    pub livekit_trunk_id: Option<String>,
    /// The Twilio Elastic SIP trunk the control plane provisioned for it (`TK...`), if any;
    /// read-only. Deleting the trunk deletes that one too.
    pub twilio_trunk_sid: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<TrunkRow> for TrunkView {
    type Error = ApiError;

    fn try_from(row: TrunkRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.id,
            name: row.name,
            provider: row.provider,
            mode: row.mode.parse().map_err(anyhow::Error::new)?,
            numbers: row.numbers,
            address: row.address,
            auth_username: row.auth_username,
            has_auth_password: row.has_auth_password,
            calls_per_second: row.calls_per_second,
            account_sid: row.account_sid,
            has_auth_token: row.has_auth_token,
            livekit_trunk_id: row.livekit_trunk_id,
            twilio_trunk_sid: row.twilio_trunk_sid,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Seals a new secret; on create there is nothing to keep, so `Keep` means none.
fn seal(secrets: &SecretBox, change: &SecretChange) -> SealedChange {
    match change {
        SecretChange::Keep => SealedChange {
            keep: true,
            sealed: None,
        },
        SecretChange::Clear => SealedChange {
            keep: false,
            sealed: None,
        },
        SecretChange::Set(plain) => SealedChange {
            keep: false,
            sealed: Some(secrets.seal(plain)),
        },
    }
}

/// Creates a trunk. A `livekit_sip` trunk is registered as a LiveKit outbound trunk first
/// when a LiveKit project is configured (`livekitTrunkId`).
#[utoipa::path(post, path = "/api/v1/trunks", tag = "trunks", request_body = TrunkInput,
    responses((status = 201, body = TrunkView), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn create_trunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TrunkInput>,
) -> Result<(StatusCode, ApiJson<TrunkView>), ApiError> {
    let spec = body.into_spec()?;
    let row = store_new(&state, caller.org_id, &spec, None).await?;
    Ok((StatusCode::CREATED, ApiJson(row.try_into()?)))
}

/// Stores a new trunk, registered at LiveKit first when it is a `livekit_sip` one and a
/// project is configured; `twilio` names what was provisioned at Twilio for it. If the
/// row cannot be written the registration is removed again.
pub(crate) async fn store_new(
    state: &AppState,
    org_id: Uuid,
    spec: &TrunkSpec,
    twilio: Option<TwilioRefs<'_>>,
) -> Result<TrunkRow, ApiError> {
    let id = Uuid::now_v7();
    // A new trunk has no stored password to keep.
    let livekit_id = register_spec(state, id, spec, None).await?;
    let password = seal(&state.secrets, &spec.auth_password).sealed;
    let token = seal(&state.secrets, &spec.auth_token).sealed;
    let remote = Remote {
        livekit_trunk_id: livekit_id.as_deref(),
        twilio,
    };
    match trunks::insert(&state.db, id, org_id, spec, password, token, remote).await {
        Ok(row) => Ok(row),
        Err(err) => {
            state.provisioner.undo_register(livekit_id.as_deref()).await;
            Err(err.into())
        }
    }
}

/// Registers a `livekit_sip` trunk spec at LiveKit (when a project is configured); a
/// password the spec keeps is `stored`, opened here. `None` for other trunks.
async fn register_spec(
    state: &AppState,
    id: Uuid,
    spec: &TrunkSpec,
    stored: Option<&[u8]>,
) -> Result<Option<String>, ApiError> {
    let (TrunkMode::LivekitSip, Some(address)) = (spec.mode, &spec.address) else {
        return Ok(None);
    };
    if state.provisioner.livekit.is_none() {
        return Ok(None);
    }
    let password = match &spec.auth_password {
        SecretChange::Set(p) => Some(SecretString::from(p.clone())),
        SecretChange::Clear => None,
        SecretChange::Keep => stored
            .map(|sealed| state.secrets.open(sealed))
            .transpose()?,
    };
    let trunk = OutboundTrunk {
        name: spec.name.clone(),
        address: address.clone(),
        numbers: spec.numbers.clone(),
        auth_username: spec.auth_username.clone(),
        auth_password: password,
        // Ours, so an operator can tell in LiveKit which trunk is which.
        metadata: serde_json::json!({ "outboundTrunkId": id }).to_string(),
    };
    state.provisioner.register(&trunk).await
}

/// Lists trunks, newest first.
#[utoipa::path(get, path = "/api/v1/trunks", tag = "trunks", params(PageQuery),
    responses((status = 200, body = Page<TrunkView>), (status = 422, body = ErrorBody)))]
async fn list_trunks(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<TrunkView>>, ApiError> {
    let (limit, offset) = page.limit_offset()?;
    let (rows, total) = trunks::list(&state.db, caller.org_id, limit, offset).await?;
    let data = rows
        .into_iter()
        .map(TryInto::try_into)
        .collect::<Result<_, _>>()?;
    Ok(ApiJson(Page::new(data, total, page)?))
}

/// One trunk.
#[utoipa::path(get, path = "/api/v1/trunks/{id}", tag = "trunks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TrunkView), (status = 404, body = ErrorBody)))]
async fn get_trunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<TrunkView>, ApiError> {
    let row = trunks::get(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("trunk"))?;
    Ok(ApiJson(row.try_into()?))
}

/// Replaces a trunk's fields; omitted secrets keep their stored values. A `livekit_sip`
/// trunk is registered at LiveKit anew (a new `livekitTrunkId`) and the old registration
/// removed, so LiveKit always dials with what is stored here.
#[utoipa::path(put, path = "/api/v1/trunks/{id}", tag = "trunks",
    params(("id" = Uuid, Path)), request_body = TrunkInput,
    responses((status = 200, body = TrunkView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn update_trunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<TrunkInput>,
) -> Result<ApiJson<TrunkView>, ApiError> {
    let spec = body.into_spec()?;
    let current = trunks::provisioning(&state.db, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("trunk"))?;
    let new_livekit_id =
        register_spec(&state, id, &spec, current.auth_password_enc.as_deref()).await?;
    let password = seal(&state.secrets, &spec.auth_password);
    let token = seal(&state.secrets, &spec.auth_token);
    let updated = async {
        let mut tx = state.db.begin().await?;
        let mut row = trunks::update(&mut tx, caller.org_id, id, &spec, password, token).await?;
        if new_livekit_id.is_some() || spec.mode != TrunkMode::LivekitSip {
            row = trunks::set_livekit_trunk_id(
                &mut *tx,
                caller.org_id,
                id,
                new_livekit_id.as_deref(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok::<_, UpdateError>(row)
    }
    .await;
    let row = match updated {
        Ok(row) => row,
        Err(err) => {
            state
                .provisioner
                .undo_register(new_livekit_id.as_deref())
                .await;
            return Err(match err {
                UpdateError::NotFound => ApiError::NotFound("trunk"),
                UpdateError::ModeInUse => ApiError::Conflict(
                    "the mode of a trunk that campaigns use cannot change".into(),
                ),
                UpdateError::Db(err) => err.into(),
            });
        }
    };
    // The row now names the new registration (or none): the old one can go.
    if row.livekit_trunk_id != current.livekit_trunk_id {
        state
            .provisioner
            .undo_register(current.livekit_trunk_id.as_deref())
            .await;
    }
    Ok(ApiJson(row.try_into()?))
}

/// Deletes a trunk that no campaign uses, with its LiveKit registration and, for a trunk
/// provisioned here, the Twilio trunk and credential list. If LiveKit or Twilio cannot be
/// reached the trunk stays (502) and the delete can be retried.
#[utoipa::path(delete, path = "/api/v1/trunks/{id}", tag = "trunks",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn delete_trunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.db.begin().await?;
    let current = trunks::provisioning(&mut *tx, caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("trunk"))?;
    match trunks::delete(&mut *tx, caller.org_id, id).await {
        Ok(_) => {}
        Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            return Err(ApiError::Conflict("the trunk is used by a campaign".into()))
        }
        Err(err) => return Err(err.into()),
    }
    // The row is gone only if the remote sides are: both calls treat "already gone" as
    // done, so a retry after a failure here finishes the job.
    if let Some(livekit_id) = &current.livekit_trunk_id {
        state.provisioner.unregister(livekit_id).await?;
    }
    if let Some((account, trunk)) = twilio_side(&state, &current)? {
        state
            .provisioner
            .trunking
            .deprovision(&account, &trunk)
            .await
            .map_err(|err| twilio_error(err, false))?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The Twilio trunk a row says the control plane made, with the account that made it.
fn twilio_side(
    state: &AppState,
    row: &ProvisioningRow,
) -> Result<Option<(ProviderAccount, TwilioTrunkRef)>, ApiError> {
    let (Some(trunk_sid), Some(account_sid), Some(token)) = (
        &row.twilio_trunk_sid,
        &row.twilio_account_sid,
        &row.twilio_auth_token_enc,
    ) else {
        return Ok(None);
    };
    let account = ProviderAccount {
        account_sid: account_sid.clone(),
        auth_token: state.secrets.open(token)?,
    };
    let trunk = TwilioTrunkRef {
        trunk_sid: trunk_sid.clone(),
        credential_list_sid: row.twilio_credential_list_sid.clone(),
    };
    Ok(Some((account, trunk)))
}
