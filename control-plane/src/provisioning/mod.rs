//! The other side of a trunk: its registration as a LiveKit outbound trunk, and for a
//! Twilio Elastic SIP trunk the control plane sets up, the trunk itself at Twilio.
//!
//! The rule everywhere: the remote side is changed first and our row last, inside one
//! transaction, and a failure undoes the remote change. A trunk row therefore never names
//! a LiveKit trunk or Twilio trunk that was not made, and a refused request leaves nothing
//! behind.

pub mod livekit;
pub mod twilio;

use std::time::Duration;

use crate::config::Settings;
use crate::dialer::twilio::TwilioError;
use crate::dialer::ProviderAccount;
use crate::error::ApiError;
use livekit::{LiveKitError, LiveKitSip, OutboundTrunk};
use twilio::{ProvisionError, TrunkingClient};

/// The clients provisioning needs, built once from the settings.
#[derive(Debug, Clone)]
pub struct Provisioner {
    pub trunking: TrunkingClient,
    /// `None` when no LiveKit project is configured.
    pub livekit: Option<LiveKitSip>,
    /// The deployment's Twilio account, for requests that do not name one.
    pub default_account: Option<ProviderAccount>,
}

impl Provisioner {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            trunking: TrunkingClient::new(
                &settings.twilio.base_url,
                &settings.twilio.trunking_url,
                Duration::from_secs(settings.twilio.request_timeout_sec),
            ),
            livekit: LiveKitSip::from_settings(&settings.livekit)?,
            default_account: ProviderAccount::from_settings(&settings.twilio),
        })
    }

    /// Registers a trunk at LiveKit when a project is configured; returns its id there.
    pub async fn register(&self, trunk: &OutboundTrunk) -> Result<Option<String>, ApiError> {
        match &self.livekit {
            Some(livekit) => Ok(Some(livekit.create_outbound_trunk(trunk).await?)),
            None => Ok(None),
        }
    }

    /// Removes a trunk from LiveKit. Without a configured project there is nothing to call:
    /// the id is only logged, so an operator can remove it by hand.
    pub async fn unregister(&self, livekit_trunk_id: &str) -> Result<(), ApiError> {
        match &self.livekit {
            Some(livekit) => Ok(livekit.delete_trunk(livekit_trunk_id).await?),
            None => {
                tracing::warn!(
                    livekit_trunk_id,
                    "no LiveKit project is configured: remove this outbound trunk at LiveKit by hand"
                );
                Ok(())
            }
        }
    }

    /// [`Provisioner::unregister`] after something else failed: that first error is what
    /// the caller reports, so this one is logged.
    pub async fn undo_register(&self, livekit_trunk_id: Option<&str>) {
        if let Some(id) = livekit_trunk_id {
            if let Err(err) = self.unregister(id).await {
                tracing::error!(
                    livekit_trunk_id = id,
                    "could not remove a LiveKit trunk: {err}"
                );
            }
        }
    }
}

impl From<LiveKitError> for ApiError {
    fn from(err: LiveKitError) -> Self {
        match err {
            LiveKitError::Twirp { code, msg, .. } if code == "invalid_argument" => {
                ApiError::invalid("livekit", format!("LiveKit refused the trunk: {msg}"))
            }
            // A bad token gets a plain-text 401, not a Twirp body.
            LiveKitError::Twirp {
                status, code, msg, ..
            } if status == 401 || code == "unauthenticated" || code == "permission_denied" => {
                ApiError::BadGateway(format!(
                    "LiveKit refused the control plane's API key ({code}: {msg}); check livekit.api_key and livekit.api_secret"
                ))
            }
            other => ApiError::BadGateway(other.to_string()),
        }
    }
}

/// Twilio's refusals in API terms. `own_account` says whether the caller gave the
/// credentials (their mistake: 422) or the deployment did (ours: 502).
pub fn provision_error(err: ProvisionError, own_account: bool) -> ApiError {
    match err {
        ProvisionError::UnknownNumber { index, number } => ApiError::invalid(
            format!("numbers[{index}]"),
            format!("{number} is not a phone number of this Twilio account"),
        ),
        ProvisionError::Twilio(err) => twilio_error(err, own_account),
    }
}

pub fn twilio_error(err: TwilioError, own_account: bool) -> ApiError {
    match err {
        TwilioError::Api { status: 401, .. } | TwilioError::Api { code: Some(20003), .. } => {
            if own_account {
                ApiError::invalid("authToken", "Twilio refused these credentials")
            } else {
                ApiError::BadGateway(
                    "Twilio refused the deployment's account credentials (twilio.account_sid / twilio.auth_token)".into(),
                )
            }
        }
        TwilioError::Api { code: Some(21248), .. } => ApiError::Conflict(
            "the domain name is taken: Twilio domains are global, and a deleted trunk's stays reserved for up to 30 days; choose another domainName".into(),
        ),
        TwilioError::Api {
            status, message, ..
        } if (400..500).contains(&status) => ApiError::invalid("twilio", format!("Twilio refused the request: {message}")),
        other => ApiError::BadGateway(other.to_string()),
    }
}
