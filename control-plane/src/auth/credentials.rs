//! Passwords (argon2id), session JWTs (HS256) and API keys (random, stored as SHA-256).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::AuthSettings;

/// Every API key starts with this, so a key is told from a JWT without trying both.
pub const API_KEY_PREFIX: &str = "ocp_";

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| anyhow::anyhow!("hashing password: {err}"))
}

/// True when `password` matches the stored PHC string.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A real argon2id hash of a password nobody knows, made once with the same parameters
/// as every stored hash. Login verifies an unknown email's password against it, so that
/// an unknown email costs as much as a wrong password and the time does not tell which
/// emails have accounts.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    hash_password(&hex::encode(secret)).unwrap_or_default()
});

/// The hash a login attempt is verified against: the user's own, or the dummy one.
fn login_hash(stored: Option<&str>) -> &str {
    stored.unwrap_or(DUMMY_HASH.as_str())
}

/// Verifies `password` for a login: against the user's hash when there is a user, else
/// against the dummy hash (always false, same cost).
pub fn verify_login(password: &str, stored: Option<&str>) -> bool {
    let ok = verify_password(password, login_hash(stored));
    ok && stored.is_some()
}

/// The claims of a session token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user id.
    pub sub: Uuid,
    /// The user's organization.
    pub org: Uuid,
    pub iat: i64,
    pub exp: i64,
}

/// Keys and lifetime for session tokens.
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_hours: i64,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys")
    }
}

impl SessionKeys {
    pub fn new(settings: &AuthSettings) -> Self {
        let secret = settings.jwt_secret.expose_secret().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_hours: settings.jwt_ttl_hours,
        }
    }

    /// A signed token for `user` of `org`.
    pub fn issue(&self, user: Uuid, org: Uuid) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = SessionClaims {
            sub: user,
            org,
            iat: now,
            exp: now + self.ttl_hours * 3600,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The claims of a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Option<SessionClaims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// A freshly made API key: shown once, then only its hash is kept.
#[derive(Debug)]
pub struct ApiKeySecret {
    pub key: String,
    pub prefix: String,
    pub hash: String,
}

/// Makes a new random API key.
pub fn new_api_key() -> ApiKeySecret {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    let key = format!("{API_KEY_PREFIX}{}", hex::encode(bytes));
    let prefix = key[..API_KEY_PREFIX.len() + 6].to_string();
    let hash = hash_api_key(&key);
    ApiKeySecret { key, prefix, hash }
}

/// The stored form of an API key.
pub(super) fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn an_unknown_user_is_verified_against_a_real_hash_with_the_same_cost() {
        // A dummy that failed to parse would answer at once: it must be a full argon2id
        // hash with the parameters real passwords get.
        let dummy = PasswordHash::new(login_hash(None)).unwrap();
        let real_hash = hash_password("x").unwrap();
        let real = PasswordHash::new(&real_hash).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(
            dummy.params.iter().collect::<Vec<_>>(),
            real.params.iter().collect::<Vec<_>>()
        );
        assert!(!verify_login("anything", None));
        assert!(verify_login("x", Some(&real_hash)));
        assert!(!verify_login("y", Some(&real_hash)));
    }

    #[test]
    fn session_tokens_round_trip_and_reject_other_keys() {
        let settings = |secret: &str| AuthSettings {
            jwt_secret: SecretString::from(secret.to_string()),
            jwt_ttl_hours: 1,
            encryption_key: SecretString::from("x"),
            allow_dev_secrets: false,
        };
        let keys = SessionKeys::new(&settings("one"));
        let (user, org) = (Uuid::new_v4(), Uuid::new_v4());
        let token = keys.issue(user, org).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.org), (user, org));
        assert!(SessionKeys::new(&settings("two")).verify(&token).is_none());
        assert!(keys.verify("garbage").is_none());
    }

    #[test]
    fn api_keys_are_random_and_hashed() {
        let a = new_api_key();
        let b = new_api_key();
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(API_KEY_PREFIX));
        assert!(a.key.starts_with(&a.prefix));
        assert_eq!(a.hash, hash_api_key(&a.key));
        assert!(!a.hash.contains(&a.key));
    }
}
