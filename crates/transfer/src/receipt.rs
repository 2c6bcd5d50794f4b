//! The gateway's signed receipt (Ed25519). The pad deletes nothing before
//! [`Receipt::verify`] passed with the gateway key from its configuration.
//!
//! Signed message: `"rettpad/v1/receipt" | packet_id (16) | sha256 (32) |
//! received_ms (i64 BE)`. Ed25519 is deterministic, and the gateway stores
//! the first receipt, so a repeated upload gets the identical receipt.

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const CONTEXT: &[u8] = b"rettpad/v1/receipt";
pub const PUBLIC_KEY_LEN: usize = 32;
pub const SIGNATURE_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("receipt does not decode: {0}")]
    Decode(String),
    #[error("receipt signature is invalid")]
    BadSignature,
    #[error("receipt is for another packet")]
    WrongPacket,
    #[error("signing key is invalid: {0}")]
    Key(String),
}

/// What the gateway acknowledges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub packet_id: Uuid,
    /// Hex SHA-256 of the packet as received.
    pub packet_sha256: String,
    pub received_ms: i64,
    /// Hex Ed25519 signature.
    pub signature: String,
}

fn message(packet_id: &Uuid, sha: &[u8; 32], received_ms: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(CONTEXT.len() + 16 + 32 + 8);
    m.extend_from_slice(CONTEXT);
    m.extend_from_slice(packet_id.as_bytes());
    m.extend_from_slice(sha);
    m.extend_from_slice(&received_ms.to_be_bytes());
    m
}

/// The gateway's signing key (PKCS#8 v2 DER, stored hex in a key file).
pub struct ReceiptSigner(Ed25519KeyPair);

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiptSigner(public {})", self.public_hex())
    }
}

impl ReceiptSigner {
    /// A new key; returns it with its PKCS#8 DER for the key file.
    pub fn generate() -> Result<(ReceiptSigner, Vec<u8>), ReceiptError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|e| ReceiptError::Key(e.to_string()))?;
        let der = doc.as_ref().to_vec();
        Ok((Self::from_pkcs8(&der)?, der))
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<ReceiptSigner, ReceiptError> {
        Ed25519KeyPair::from_pkcs8(der)
            .map(ReceiptSigner)
            .map_err(|e| ReceiptError::Key(e.to_string()))
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.0.public_key().as_ref())
    }

    pub fn sign(&self, packet_id: Uuid, sha: &[u8; 32], received_ms: i64) -> Receipt {
        let sig = self.0.sign(&message(&packet_id, sha, received_ms));
        Receipt {
            packet_id,
            packet_sha256: hex::encode(sha),
            received_ms,
            signature: hex::encode(sig.as_ref()),
        }
    }
}

/// The gateway's public receipt key, from the pad configuration (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptKey([u8; PUBLIC_KEY_LEN]);

impl ReceiptKey {
    pub fn from_hex(s: &str) -> Result<ReceiptKey, ReceiptError> {
        let b = hex::decode(s.trim()).map_err(|_| ReceiptError::Key("not hex".into()))?;
        let a: [u8; PUBLIC_KEY_LEN] = b
            .try_into()
            .map_err(|_| ReceiptError::Key("not 32 bytes".into()))?;
        Ok(ReceiptKey(a))
    }
}

impl Receipt {
    pub fn from_json(b: &[u8]) -> Result<Receipt, ReceiptError> {
        serde_json::from_slice(b).map_err(|e| ReceiptError::Decode(e.to_string()))
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings and ints always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks the signature and that it covers exactly this packet.
    pub fn verify(
        &self,
        key: &ReceiptKey,
        packet_id: Uuid,
        sha: &[u8; 32],
    ) -> Result<(), ReceiptError> {
        if self.packet_id != packet_id || self.packet_sha256 != hex::encode(sha) {
            return Err(ReceiptError::WrongPacket);
        }
        let sig = hex::decode(&self.signature).map_err(|_| ReceiptError::BadSignature)?;
        if sig.len() != SIGNATURE_LEN {
            return Err(ReceiptError::BadSignature);
        }
        UnparsedPublicKey::new(&ED25519, &key.0)
            .verify(&message(&packet_id, sha, self.received_ms), &sig)
            .map_err(|_| ReceiptError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_refuse() {
        let (s, der) = ReceiptSigner::generate().unwrap();
        let key = ReceiptKey::from_hex(&s.public_hex()).unwrap();
        let id = Uuid::now_v7();
        let sha = [7u8; 32];
        let r = s.sign(id, &sha, 1_000);
        r.verify(&key, id, &sha).unwrap();
        // Deterministic: same input, same receipt, also after reloading.
        assert_eq!(
            ReceiptSigner::from_pkcs8(&der)
                .unwrap()
                .sign(id, &sha, 1_000),
            r
        );
        let back = Receipt::from_json(&r.to_json()).unwrap();
        back.verify(&key, id, &sha).unwrap();
        assert_eq!(
            r.verify(&key, id, &[8u8; 32]),
            Err(ReceiptError::WrongPacket)
        );
        assert_eq!(
            r.verify(&key, Uuid::now_v7(), &sha),
            Err(ReceiptError::WrongPacket)
        );
        let mut t = r.clone();
        t.received_ms += 1;
        assert_eq!(t.verify(&key, id, &sha), Err(ReceiptError::BadSignature));
        let (other, _) = ReceiptSigner::generate().unwrap();
        let k2 = ReceiptKey::from_hex(&other.public_hex()).unwrap();
        assert_eq!(r.verify(&k2, id, &sha), Err(ReceiptError::BadSignature));
    }
}
