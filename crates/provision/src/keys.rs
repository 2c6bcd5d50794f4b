//! The trust chain: root key (offline) → key certificate → signing key.
//!
//! Key certificate on the wire: `u32 BE len | body (JSON) | Ed25519
//! signature of the root over "rettpad/v1/keycert\0" | body`. The body is
//! verified before it is parsed.

use crate::error::ProvisionError;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

pub const PUBLIC_KEY_LEN: usize = 32;
pub const SIGNATURE_LEN: usize = 64;
const CERT_CONTEXT: &[u8] = b"rettpad/v1/keycert\0";
/// A certificate body is small; anything larger is not one.
const MAX_CERT_BODY: usize = 4096;

/// What a signing key may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Provisioning packages.
    Packages,
    /// Remote lock, unlock and wipe.
    Commands,
}

impl Purpose {
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Packages => "packages",
            Purpose::Commands => "commands",
        }
    }
}

/// The root's statement about an online signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyCert {
    pub org: String,
    /// Hex Ed25519 public key of the signing key.
    pub public_key: String,
    pub purposes: Vec<Purpose>,
    pub not_before_ms: i64,
    pub expires_ms: i64,
}

impl KeyCert {
    /// First 16 hex digits of the SHA-256 of the public key, for logs.
    pub fn key_id(&self) -> String {
        crate::sha256_hex(self.public_key.as_bytes())[..16].to_string()
    }

    /// Checks that this key may sign for `purpose` at `now_ms`.
    pub fn check(&self, purpose: Purpose, now_ms: i64) -> Result<(), ProvisionError> {
        if !self.purposes.contains(&purpose) {
            return Err(ProvisionError::WrongPurpose(purpose.name()));
        }
        if now_ms < self.not_before_ms {
            return Err(ProvisionError::KeyNotYetValid(self.not_before_ms));
        }
        if now_ms >= self.expires_ms {
            return Err(ProvisionError::KeyExpired(self.expires_ms));
        }
        Ok(())
    }

    fn public_key_bytes(&self) -> Result<[u8; PUBLIC_KEY_LEN], ProvisionError> {
        hex::decode(&self.public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ProvisionError::Corrupt("key certificate public key".into()))
    }
}

/// What a pad was enrolled with: its organisation and the root's public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    pub org: String,
    /// Hex Ed25519 public key of the organisation root.
    pub root_key: String,
}

impl Trust {
    fn root(&self) -> Result<[u8; PUBLIC_KEY_LEN], ProvisionError> {
        hex::decode(&self.root_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ProvisionError::Key("the enrolled root key is not 32 bytes hex".into()))
    }

    /// Verifies an encoded certificate against the root and returns the
    /// signing key it certifies, checked for `purpose` at `now_ms`.
    pub fn check_cert(
        &self,
        encoded: &[u8],
        purpose: Purpose,
        now_ms: i64,
    ) -> Result<(KeyCert, [u8; PUBLIC_KEY_LEN]), ProvisionError> {
        let Some(body_len) = encoded.len().checked_sub(SIGNATURE_LEN) else {
            return Err(ProvisionError::Corrupt("key certificate".into()));
        };
        if body_len > MAX_CERT_BODY {
            return Err(ProvisionError::Corrupt("key certificate too large".into()));
        }
        let (body, sig) = encoded.split_at(body_len);
        let mut msg = CERT_CONTEXT.to_vec();
        msg.extend_from_slice(body);
        UnparsedPublicKey::new(&ED25519, self.root()?)
            .verify(&msg, sig)
            .map_err(|_| ProvisionError::UntrustedKey)?;
        let cert: KeyCert = serde_json::from_slice(body)
            .map_err(|e| ProvisionError::Corrupt(format!("key certificate: {e}")))?;
        if cert.org != self.org {
            return Err(ProvisionError::ForeignOrganisation(cert.org));
        }
        cert.check(purpose, now_ms)?;
        let pk = cert.public_key_bytes()?;
        Ok((cert, pk))
    }
}

fn generate() -> Result<(Ed25519KeyPair, Vec<u8>), ProvisionError> {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|e| ProvisionError::Key(e.to_string()))?;
    let der = doc.as_ref().to_vec();
    let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|e| ProvisionError::Key(e.to_string()))?;
    Ok((pair, der))
}

fn load(der: &[u8]) -> Result<Ed25519KeyPair, ProvisionError> {
    Ed25519KeyPair::from_pkcs8(der).map_err(|e| ProvisionError::Key(e.to_string()))
}

/// The organisation's root key. Its PKCS#8 stays offline; only its public
/// key goes to the pads.
pub struct RootKey(Ed25519KeyPair);

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootKey(public {})", self.public_hex())
    }
}

impl RootKey {
    /// A new root; returns it with its PKCS#8 DER for the (offline) key file.
    pub fn generate() -> Result<(RootKey, Vec<u8>), ProvisionError> {
        generate().map(|(k, der)| (RootKey(k), der))
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<RootKey, ProvisionError> {
        load(der).map(RootKey)
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.0.public_key().as_ref())
    }

    /// The trust a pad of `org` is enrolled with.
    pub fn trust(&self, org: &str) -> Trust {
        Trust {
            org: org.to_string(),
            root_key: self.public_hex(),
        }
    }

    /// A new online signing key for `org`, certified by this root for
    /// `purposes` from `not_before_ms` until `expires_ms`.
    pub fn new_signing_key(
        &self,
        org: &str,
        purposes: Vec<Purpose>,
        not_before_ms: i64,
        expires_ms: i64,
    ) -> Result<NewSigningKey, ProvisionError> {
        let pkcs8 = SigningKey::generate_pkcs8()?;
        let cert = KeyCert {
            org: org.to_string(),
            public_key: public_hex_of(&pkcs8)?,
            purposes,
            not_before_ms,
            expires_ms,
        };
        let encoded = self.certify(&cert)?;
        Ok(NewSigningKey {
            key: SigningKey::new(&pkcs8, encoded.clone())?,
            pkcs8,
            cert,
            encoded_cert: encoded,
        })
    }

    /// Certifies `cert` (the signing key's public key and validity).
    pub fn certify(&self, cert: &KeyCert) -> Result<Vec<u8>, ProvisionError> {
        let body = serde_json::to_vec(cert).map_err(|e| ProvisionError::Key(e.to_string()))?;
        let mut msg = CERT_CONTEXT.to_vec();
        msg.extend_from_slice(&body);
        let sig = self.0.sign(&msg);
        let mut out = body;
        out.extend_from_slice(sig.as_ref());
        Ok(out)
    }
}

/// A signing key just made by [`RootKey::new_signing_key`]: usable, and
/// its PKCS#8 and certificate for the key files.
pub struct NewSigningKey {
    pub key: SigningKey,
    pub pkcs8: Vec<u8>,
    pub cert: KeyCert,
    pub encoded_cert: Vec<u8>,
}

/// An online signing key with its certificate from the root.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    cert: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(public {})", self.public_hex())
    }
}

impl SigningKey {
    /// A new signing key's PKCS#8 DER, for the key file; the root then
    /// certifies its public key ([`public_hex_of`]).
    pub fn generate_pkcs8() -> Result<Vec<u8>, ProvisionError> {
        generate().map(|(_, der)| der)
    }

    /// A key with the certificate the root issued for it. Refused when the
    /// certificate names another public key.
    pub fn new(pkcs8: &[u8], cert: Vec<u8>) -> Result<SigningKey, ProvisionError> {
        let pair = load(pkcs8)?;
        let body = cert
            .len()
            .checked_sub(SIGNATURE_LEN)
            .map(|n| &cert[..n])
            .ok_or_else(|| ProvisionError::Corrupt("key certificate".into()))?;
        let parsed: KeyCert = serde_json::from_slice(body)
            .map_err(|e| ProvisionError::Corrupt(format!("key certificate: {e}")))?;
        if parsed.public_key != hex::encode(pair.public_key().as_ref()) {
            return Err(ProvisionError::Key(
                "the certificate is for another signing key".into(),
            ));
        }
        Ok(SigningKey { pair, cert })
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.pair.public_key().as_ref())
    }

    pub fn cert(&self) -> &[u8] {
        &self.cert
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(msg).as_ref().to_vec()
    }
}

/// The public key of a PKCS#8 Ed25519 key, hex.
pub fn public_hex_of(pkcs8: &[u8]) -> Result<String, ProvisionError> {
    load(pkcs8).map(|k| hex::encode(k.public_key().as_ref()))
}
