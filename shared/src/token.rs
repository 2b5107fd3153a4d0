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

/// Clock difference between the minting and the checking host that is still accepted.
const LEEWAY_SEC: i64 = 5;

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

    /// The claims of a valid token, whatever call it is for, unexpired at `now` (seconds
    /// since the epoch). The caller passes its clock: the control plane mints expiries from
    /// the engine's clock, so it must judge them by that clock too, not the host's.
    pub fn verify(&self, token: &str, now: i64) -> Result<CallClaims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        // Expiry is checked below against the caller's clock, not jsonwebtoken's.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<CallClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)?;
        if claims.exp + LEEWAY_SEC < now {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }

    /// The claims of a valid token for exactly `call`, unexpired at `now`.
    pub fn verify_for(&self, token: &str, call: Uuid, now: i64) -> Result<CallClaims, TokenError> {
        let claims = self.verify(token, now)?;
        if claims.sub != call {
            return Err(TokenError::WrongCall);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any instant works: expiry is judged by the clock the caller passes in.
    const NOW: i64 = 1_764_000_000;

    #[test]
    fn a_token_is_good_for_its_own_call_only() {
        let tokens = CallTokens::new(b"secret");
        let (call, org) = (Uuid::new_v4(), Uuid::new_v4());
        let token = tokens.mint(call, org, NOW + 60);
        assert_eq!(tokens.verify_for(&token, call, NOW).unwrap().org, org);
        assert_eq!(
            tokens.verify_for(&token, Uuid::new_v4(), NOW),
            Err(TokenError::WrongCall)
        );
    }

    #[test]
    fn expiry_is_judged_by_the_callers_clock_with_a_small_leeway() {
        let tokens = CallTokens::new(b"secret");
        let call = Uuid::new_v4();
        // Minted from a clock years behind the host's: still good by that clock.
        let token = tokens.mint(call, Uuid::new_v4(), NOW + 60);
        assert!(tokens.verify(&token, NOW + 60 + LEEWAY_SEC).is_ok());
        assert_eq!(
            tokens.verify(&token, NOW + 61 + LEEWAY_SEC),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn expired_or_foreign_tokens_are_refused() {
        let tokens = CallTokens::new(b"secret");
        let call = Uuid::new_v4();
        let expired = tokens.mint(call, Uuid::new_v4(), NOW - 60);
        assert_eq!(tokens.verify(&expired, NOW), Err(TokenError::Invalid));
        let other = CallTokens::new(b"other").mint(call, Uuid::new_v4(), NOW + 60);
        assert_eq!(tokens.verify(&other, NOW), Err(TokenError::Invalid));
        assert_eq!(tokens.verify("garbage", NOW), Err(TokenError::Invalid));
    }
}
