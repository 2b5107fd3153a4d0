//! LiveKit's SIP service API (Twirp over JSON): registering a trunk as a LiveKit outbound
//! trunk, so that `CreateSIPParticipant` can dial through it. The same calls work against
//! LiveKit Cloud and a self-hosted server; only the URL and keys differ.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::LiveKitSettings;

/// A client for one LiveKit project.
#[derive(Debug, Clone)]
pub struct LiveKitSip {
    http: reqwest::Client,
    url: String,
    api_key: String,
    api_secret: SecretString,
}

/// The outbound trunk LiveKit dials through.
#[derive(Debug, Clone)]
pub struct OutboundTrunk {
    pub name: String,
    /// The carrier's SIP host (`acme.pstn.twilio.com`), without `sip:`.
    pub address: String,
    /// Caller ids the trunk may use.
    pub numbers: Vec<String>,
    pub auth_username: Option<String>,
    pub auth_password: Option<SecretString>,
    /// Ours, so an operator can tell in LiveKit which trunk is which.
    pub metadata: String,
}

/// A failed LiveKit request.
#[derive(Debug, thiserror::Error)]
pub enum LiveKitError {
    /// LiveKit answered with a Twirp error (`code` such as `unavailable`, `not_found`).
    #[error("LiveKit error {code} (HTTP {status}): {msg}")]
    Twirp {
        status: u16,
        code: String,
        msg: String,
    },
    #[error("could not reach LiveKit: {0}")]
    Transport(String),
}

#[derive(Debug, Deserialize)]
struct TwirpError {
    code: String,
    msg: String,
}

#[derive(Debug, Deserialize)]
struct TrunkInfo {
    #[serde(alias = "sipTrunkId")]
    sip_trunk_id: String,
}

#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    nbf: i64,
    exp: i64,
    sip: Value,
}

impl LiveKitSip {
    /// `None` when no LiveKit URL is configured; an error when the URL is there without
    /// its keys (a half-configured project would fail on the first trunk, not at start).
    pub fn from_settings(settings: &LiveKitSettings) -> anyhow::Result<Option<Self>> {
        let Some(url) = settings.url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let (Some(api_key), Some(api_secret)) = (&settings.api_key, &settings.api_secret) else {
            anyhow::bail!("livekit.url is set but livekit.api_key or livekit.api_secret is not");
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.request_timeout_sec))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Some(Self {
            http,
            url: http_url(url),
            api_key: api_key.clone(),
            api_secret: api_secret.clone(),
        }))
    }

    /// A short-lived token with the SIP admin grant (what trunk RPCs require).
    fn token(&self) -> Result<String, LiveKitError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: &self.api_key,
            sub: "control-plane",
            nbf: now - 10,
            exp: now + 600,
            sip: json!({"admin": true, "call": true}),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(self.api_secret.expose_secret().as_bytes()),
        )
        .map_err(|err| LiveKitError::Transport(format!("signing the access token: {err}")))
    }

    /// One Twirp call on the SIP service (`livekit.SIP/<method>`) with a SIP admin token.
    pub(crate) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        body: Value,
    ) -> Result<T, LiveKitError> {
        let response = self
            .http
            .post(format!("{}/twirp/livekit.SIP/{method}", self.url))
            .bearer_auth(self.token()?)
            .json(&body)
            .send()
            .await
            .map_err(|err| LiveKitError::Transport(err.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| LiveKitError::Transport(err.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|err| LiveKitError::Transport(format!("unreadable answer: {err}")));
        }
        let twirp: Option<TwirpError> = serde_json::from_slice(&bytes).ok();
        Err(match twirp {
            Some(e) => LiveKitError::Twirp {
                status: status.as_u16(),
                code: e.code,
                msg: e.msg,
            },
            None => LiveKitError::Twirp {
                status: status.as_u16(),
                code: "unknown".into(),
                msg: String::from_utf8_lossy(&bytes).into_owned(),
            },
        })
    }

    /// `CreateSIPOutboundTrunk`; returns LiveKit's trunk id (`ST_...`).
    pub async fn create_outbound_trunk(
        &self,
        trunk: &OutboundTrunk,
    ) -> Result<String, LiveKitError> {
        let mut info = json!({
            "name": trunk.name,
            "address": trunk.address,
            "numbers": trunk.numbers,
            "metadata": trunk.metadata,
        });
        if let Some(username) = &trunk.auth_username {
            info["auth_username"] = json!(username);
        }
        if let Some(password) = &trunk.auth_password {
            info["auth_password"] = json!(password.expose_secret());
        }
        let created: TrunkInfo = self
            .call("CreateSIPOutboundTrunk", json!({ "trunk": info }))
            .await?;
        Ok(created.sip_trunk_id)
    }

    /// `DeleteSIPTrunk`; a trunk LiveKit no longer has counts as deleted.
    pub async fn delete_trunk(&self, sip_trunk_id: &str) -> Result<(), LiveKitError> {
        match self
            .call::<Value>("DeleteSIPTrunk", json!({ "sip_trunk_id": sip_trunk_id }))
            .await
        {
            Err(LiveKitError::Twirp { code, .. }) if code == "not_found" => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

/// LiveKit's URL as users write it (`wss://...` from the client SDKs) as the API's
/// HTTP(S) base.
pub(crate) fn http_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        url.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_urls_become_http_ones() {
        assert_eq!(
            http_url("wss://demo.livekit.cloud/"),
            "https://demo.livekit.cloud"
        );
        assert_eq!(http_url("ws://127.0.0.1:7880"), "http://127.0.0.1:7880");
        assert_eq!(
            http_url("http://livekit-server:7880"),
            "http://livekit-server:7880"
        );
    }

    #[test]
    fn a_url_without_keys_is_refused_at_start() {
        let settings = LiveKitSettings {
            url: Some("https://demo.livekit.cloud".into()),
            api_key: None,
            api_secret: None,
            request_timeout_sec: 5,
            agent_name: "outbound-agent".into(),
            worker_wait_sec: 10,
            control_plane_url: None,
        };
        assert!(LiveKitSip::from_settings(&settings).is_err());
        let unset = LiveKitSettings {
            url: None,
            ..settings
        };
        assert!(LiveKitSip::from_settings(&unset).unwrap().is_none());
    }
}
