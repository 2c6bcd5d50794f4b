//! AES-256-GCM sealing used at rest (vault) and later for packets.
//!
//! Wire form of a sealed box: `nonce (12) || ciphertext || tag (16)`.
//! Every nonce is fresh from the OS RNG; with a data key per mission and far
//! fewer than 2^32 records per key, random nonces stay well inside GCM's bounds.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// Bytes a sealed box adds to its plaintext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// A 256-bit secret key, wiped from memory on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SecretKey(bytes)
    }

    /// Copies from a slice; `None` if the length is wrong.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(SecretKey(arr))
    }

    pub fn generate() -> Result<Self, CryptoError> {
        let mut k = [0u8; KEY_LEN];
        getrandom::fill(&mut k).map_err(|_| CryptoError::Rng)?;
        Ok(SecretKey(k))
    }

    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum CryptoError {
    #[error("random number generator failed")]
    Rng,
    #[error("sealed data is shorter than nonce and tag")]
    Truncated,
    #[error("authentication failed: wrong key, wrong context or tampered data")]
    Auth,
}

/// Encrypts `plaintext`, binding it to `aad`.
pub fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| CryptoError::Rng)?;
    let cipher = Aes256Gcm::new(key.expose().into());
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Auth)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts a box made by [`seal`] with the same key and `aad`.
pub fn open(key: &SecretKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < OVERHEAD {
        return Err(CryptoError::Truncated);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Truncated)?;
    let cipher = Aes256Gcm::new(key.expose().into());
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
        .map_err(|_| CryptoError::Auth)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_binding() {
        let k = SecretKey::generate().unwrap();
        let s = seal(&k, b"ctx-1", b"hello").unwrap();
        assert_eq!(s.len(), 5 + OVERHEAD);
        assert_eq!(open(&k, b"ctx-1", &s).unwrap(), b"hello");
        assert_eq!(open(&k, b"ctx-2", &s), Err(CryptoError::Auth));
        let other = SecretKey::generate().unwrap();
        assert_eq!(open(&other, b"ctx-1", &s), Err(CryptoError::Auth));
        assert_eq!(
            open(&k, b"ctx-1", &s[..s.len() - 1]),
            Err(CryptoError::Auth)
        );
        assert_eq!(open(&k, b"ctx-1", &s[..10]), Err(CryptoError::Truncated));
    }

    #[test]
    fn nonces_differ() {
        let k = SecretKey::generate().unwrap();
        let a = seal(&k, b"", b"x").unwrap();
        let b = seal(&k, b"", b"x").unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
    }

    #[test]
    fn debug_redacts() {
        let k = SecretKey::from_bytes([7; 32]);
        assert_eq!(format!("{k:?}"), "SecretKey([REDACTED])");
    }
}
