//! `POST /api/v1/trunks/twilio`: provisions a Twilio Elastic SIP trunk (trunk, credential
//! list, numbers) and stores it as a `livekit_sip` trunk whose address is the termination
//! URI, registered at LiveKit when a project is configured. One request does what
//! LiveKit's Twilio guide does by hand.

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::trunks::{seal, TrunkView};
use crate::auth::Caller;
use crate::db::trunks::{self, TwilioRefs};
use crate::dialer::ProviderAccount;
use crate::domain::trunk::{SecretChange, TrunkMode, TrunkSpec};
use crate::domain::twilio_trunk::TwilioTrunkInput;
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::provisioning::twilio::{ProvisionedTrunk, TrunkPlan, TwilioTrunkRef};
use crate::provisioning::{outbound_trunk, provision_error};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(provision_twilio_trunk))
}

/// Provisions a Twilio Elastic SIP trunk for outbound calls through LiveKit and stores it.
#[utoipa::path(post, path = "/api/v1/trunks/twilio", tag = "trunks",
    request_body = TwilioTrunkInput,
    responses((status = 201, body = TrunkView), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn provision_twilio_trunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TwilioTrunkInput>,
) -> Result<(StatusCode, ApiJson<TrunkView>), ApiError> {
    let spec = body.into_spec()?;
    let own_account = spec.account.is_some();
    let account = match &spec.account {
        Some((sid, token)) => ProviderAccount {
            account_sid: sid.clone(),
            auth_token: SecretString::from(token.clone()),
        },
        None => state.provisioner.default_account.clone().ok_or_else(|| {
            ApiError::invalid(
                "accountSid",
                "is required: this deployment has no Twilio account of its own",
            )
        })?,
    };
    let plan = TrunkPlan {
        friendly_name: spec.name.clone(),
        domain_name: spec.domain_name.clone(),
        numbers: spec.numbers.clone(),
    };
    let provisioned = state
        .provisioner
        .trunking
        .provision(&account, &plan)
        .await
        .map_err(|err| provision_error(err, own_account))?;

    let trunk = TrunkSpec {
        name: spec.name,
        provider: "twilio".into(),
        mode: TrunkMode::LivekitSip,
        numbers: spec.numbers,
        address: Some(provisioned.domain_name.clone()),
        auth_username: Some(provisioned.username.clone()),
        auth_password: SecretChange::Set(provisioned.password.expose_secret().to_string()),
        calls_per_second: spec.calls_per_second,
        account_sid: None,
        auth_token: SecretChange::Clear,
    };
    match store(&state, caller.org_id, &trunk, &account, &provisioned).await {
        Ok(view) => Ok((StatusCode::CREATED, ApiJson(view))),
        Err(err) => {
            // Nothing of this trunk stays at Twilio when we could not keep it.
            let made = TwilioTrunkRef {
                trunk_sid: provisioned.trunk_sid,
                credential_list_sid: Some(provisioned.credential_list_sid),
            };
            if let Err(undo) = state
                .provisioner
                .trunking
                .deprovision(&account, &made)
                .await
            {
                tracing::error!(trunk = %made.trunk_sid, "could not remove a Twilio trunk after a failed provisioning: {undo}");
            }
            Err(err)
        }
    }
}

/// Registers the provisioned trunk at LiveKit and stores it with what was made where.
async fn store(
    state: &AppState,
    org_id: Uuid,
    trunk: &TrunkSpec,
    account: &ProviderAccount,
    provisioned: &ProvisionedTrunk,
) -> Result<TrunkView, ApiError> {
    let id = Uuid::now_v7();
    let livekit_id = state
        .provisioner
        .register(&outbound_trunk(
            &id.to_string(),
            &trunk.name,
            &provisioned.domain_name,
            &trunk.numbers,
            Some(&provisioned.username),
            Some(&provisioned.password),
        ))
        .await?;
    let stored = async {
        let mut tx = state.db.begin().await?;
        let password = seal(&state.secrets, &trunk.auth_password).sealed;
        trunks::insert(&mut *tx, id, org_id, trunk, password, None).await?;
        let refs = TwilioRefs {
            trunk_sid: &provisioned.trunk_sid,
            credential_list_sid: &provisioned.credential_list_sid,
            account_sid: &account.account_sid,
            auth_token_enc: state.secrets.seal(account.auth_token.expose_secret()),
        };
        let mut row = trunks::set_twilio_refs(&mut *tx, org_id, id, refs).await?;
        if let Some(livekit_id) = &livekit_id {
            row = trunks::set_livekit_trunk_id(&mut *tx, org_id, id, Some(livekit_id)).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(row)
    }
    .await;
    match stored {
        Ok(row) => row.try_into(),
        Err(err) => {
            state.provisioner.undo_register(livekit_id.as_deref()).await;
            Err(err.into())
        }
    }
}
