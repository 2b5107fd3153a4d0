//! Per-call tokens: the control plane mints one for each call (HS256 JWT) and the worker
//! presents it to fetch the call's job and post its events. A token is good for one call
//! only and lives for the call plus the time a worker needs to flush its events.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("invalid or expired call token")]
    Invalid,
    #[error("the token is for another call")]
    WrongCall,
}

/// What a call token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallClaims {
    /// The call id.
    pub sub: Uuid,
    /// The organization that owns the call.
    pub org: Uuid,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Fixed audience so a session token can never pass as a call token.
    pub aud: String,
}

const AUDIENCE: &str = "call";

/// Signs and checks call tokens with one shared secret.
#[derive(Clone)]
pub struct CallTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for CallTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallTokens")
    }
}

impl CallTokens {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A token for `call` of `org`, valid until `expires_at` (seconds since the epoch).
    pub fn mint(&self, call: Uuid, org: Uuid, expires_at: i64) -> String {
        let claims = CallClaims {
            sub: call,
            org,
            exp: expires_at,
            aud: AUDIENCE.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of a small struct cannot fail")
    }

    /// The claims of a valid, unexpired token, whatever call it is for.
    pub fn verify(&self, token: &str) -> Result<CallClaims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 5;
        jsonwebtoken::decode::<CallClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }

    /// The claims of a valid token for exactly `call`.
    pub fn verify_for(&self, token: &str, call: Uuid) -> Result<CallClaims, TokenError> {
        let claims = self.verify(token)?;
        if claims.sub != call {
            return Err(TokenError::WrongCall);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    #[test]
    fn a_token_is_good_for_its_own_call_only() {
        let tokens = CallTokens::new(b"secret");
        let (call, org) = (Uuid::new_v4(), Uuid::new_v4());
        let token = tokens.mint(call, org, now() + 60);
        assert_eq!(tokens.verify_for(&token, call).unwrap().org, org);
        assert_eq!(
            tokens.verify_for(&token, Uuid::new_v4()),
            Err(TokenError::WrongCall)
        );
    }

    #[test]
    fn expired_or_foreign_tokens_are_refused() {
        let tokens = CallTokens::new(b"secret");
        let call = Uuid::new_v4();
        let expired = tokens.mint(call, Uuid::new_v4(), now() - 60);
        assert_eq!(tokens.verify(&expired), Err(TokenError::Invalid));
        let other = CallTokens::new(b"other").mint(call, Uuid::new_v4(), now() + 60);
        assert_eq!(tokens.verify(&other), Err(TokenError::Invalid));
    }
}
