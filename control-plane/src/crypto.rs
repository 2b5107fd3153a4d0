//! Encryption at rest for the few secrets we must be able to read back (trunk passwords,
//! Twilio auth tokens): AES-256-GCM with a random nonce stored in front of the ciphertext.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;

/// Encrypts and decrypts with the deployment's key.
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox")
    }
}

impl SecretBox {
    /// Derives the 256-bit key from any configured string.
    pub fn new(key: &SecretString) -> Self {
        let digest = Sha256::digest(key.expose_secret().as_bytes());
        let cipher = Aes256Gcm::new_from_slice(&digest).expect("SHA-256 output is 32 bytes");
        Self { cipher }
    }

    /// `nonce || ciphertext`.
    pub fn seal(&self, plaintext: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        let sealed = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        out.extend_from_slice(&sealed);
        out
    }

    /// The plaintext, or an error when the key changed or the data was tampered with.
    pub fn open(&self, sealed: &[u8]) -> anyhow::Result<SecretString> {
        anyhow::ensure!(sealed.len() > NONCE_LEN, "sealed secret is too short");
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| anyhow::anyhow!("cannot decrypt secret (wrong key?)"))?;
        Ok(SecretString::from(String::from_utf8(plain)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_the_same_key_only() {
        let a = SecretBox::new(&SecretString::from("key-a"));
        let b = SecretBox::new(&SecretString::from("key-b"));
        let sealed = a.seal("hunter2");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(a.open(&sealed).unwrap().expose_secret(), "hunter2");
        assert!(b.open(&sealed).is_err());
    }
}
