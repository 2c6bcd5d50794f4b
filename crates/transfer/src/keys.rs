//! HPKE key pairs (RFC 9180, DHKEM(P-256, HKDF-SHA256)) for the gateway and
//! the hospitals, as hex strings in configuration files.

use hpke::kem::DhP256HkdfSha256;
use hpke::{Deserializable, Kem as KemTrait, Serializable};
use zeroize::Zeroize;

pub(crate) type Kem = DhP256HkdfSha256;
pub(crate) type Kdf = hpke::kdf::HkdfSha256;
pub(crate) type Aead = hpke::aead::AesGcm256;

/// Bytes of an encapsulated key (uncompressed SEC1 P-256 point).
pub const ENC_LEN: usize = 65;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{what} is not valid hex")]
    Hex { what: &'static str },
    #[error("{what} is not a valid P-256 key")]
    Invalid { what: &'static str },
    #[error("random number generator failed")]
    Rng,
}

/// A recipient's public HPKE key.
#[derive(Clone, PartialEq, Eq)]
pub struct HpkePublicKey(pub(crate) <Kem as KemTrait>::PublicKey);

impl std::fmt::Debug for HpkePublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HpkePublicKey({})", self.to_hex())
    }
}

impl HpkePublicKey {
    pub fn from_bytes(b: &[u8]) -> Result<Self, KeyError> {
        <Kem as KemTrait>::PublicKey::from_bytes(b)
            .map(HpkePublicKey)
            .map_err(|_| KeyError::Invalid { what: "public key" })
    }

    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let b = hex::decode(s.trim()).map_err(|_| KeyError::Hex { what: "public key" })?;
        Self::from_bytes(&b)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }
}

/// A recipient's private HPKE key. `Debug` never shows it.
#[derive(Clone)]
pub struct HpkeSecretKey(pub(crate) <Kem as KemTrait>::PrivateKey);

impl std::fmt::Debug for HpkeSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HpkeSecretKey([REDACTED])")
    }
}

impl HpkeSecretKey {
    /// A fresh key pair from the OS RNG (hpke's own `gen_keypair` panics if
    /// the RNG fails; this returns an error instead).
    pub fn generate() -> Result<(HpkeSecretKey, HpkePublicKey), KeyError> {
        let mut ikm = [0u8; 32];
        getrandom::fill(&mut ikm).map_err(|_| KeyError::Rng)?;
        let (sk, pk) = Kem::derive_keypair(&ikm);
        ikm.zeroize();
        Ok((HpkeSecretKey(sk), HpkePublicKey(pk)))
    }

    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let mut b = hex::decode(s.trim()).map_err(|_| KeyError::Hex {
            what: "private key",
        })?;
        let r = <Kem as KemTrait>::PrivateKey::from_bytes(&b)
            .map(HpkeSecretKey)
            .map_err(|_| KeyError::Invalid {
                what: "private key",
            });
        b.zeroize();
        r
    }

    /// Hex of the private scalar, for writing key files.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn public(&self) -> HpkePublicKey {
        HpkePublicKey(Kem::sk_to_pk(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrip_and_errors() {
        let (sk, pk) = HpkeSecretKey::generate().unwrap();
        assert_eq!(HpkePublicKey::from_hex(&pk.to_hex()).unwrap(), pk);
        let sk2 = HpkeSecretKey::from_hex(&sk.to_hex()).unwrap();
        assert_eq!(sk2.public(), pk);
        assert_eq!(pk.to_hex().len(), 2 * ENC_LEN);
        assert!(matches!(
            HpkePublicKey::from_hex("zz"),
            Err(KeyError::Hex { .. })
        ));
        assert!(matches!(
            HpkePublicKey::from_hex("04ab"),
            Err(KeyError::Invalid { .. })
        ));
        assert_eq!(format!("{sk:?}"), "HpkeSecretKey([REDACTED])");
    }
}
