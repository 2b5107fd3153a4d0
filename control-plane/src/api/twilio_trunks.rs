//! `POST /api/v1/trunks/twilio`: provisions a Twilio Elastic SIP trunk (trunk, credential
//! list, numbers) and stores it as a `livekit_sip` trunk whose address is the termination
//! URI, registered at LiveKit when a project is configured. One request does what
//! LiveKit's Twilio guide does by hand.

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::trunks::{store_new, TrunkView};
use crate::auth::Caller;
use crate::db::trunks::TwilioRefs;
use crate::dialer::ProviderAccount;
use crate::domain::trunk::{SecretChange, TrunkMode, TrunkSpec};
use crate::domain::twilio_trunk::TwilioTrunkInput;
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::provisioning::provision_error;
use crate::provisioning::twilio::{TrunkPlan, TwilioTrunkRef};
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
    let refs = TwilioRefs {
        trunk_sid: &provisioned.trunk_sid,
        credential_list_sid: &provisioned.credential_list_sid,
        account_sid: &account.account_sid,
        auth_token_enc: state.secrets.seal(account.auth_token.expose_secret()),
    };
    match store_new(&state, caller.org_id, &trunk, Some(refs)).await {
        Ok(row) => Ok((StatusCode::CREATED, ApiJson(row.try_into()?))),
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
