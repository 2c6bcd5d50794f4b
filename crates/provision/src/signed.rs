//! The framing of everything signed: `magic (4) | u32 BE cert_len | cert |
//! u32 BE payload_len | payload | Ed25519 signature (64)` over
//! `context | every byte before the signature`. Nothing after the
//! signature is allowed, and nothing is parsed before it is verified.

use crate::MAX_PACKAGE_BYTES;
use crate::error::ProvisionError;
use crate::keys::{KeyCert, Purpose, SIGNATURE_LEN, SigningKey, Trust};
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};

/// Magic of a provisioning package.
pub const PACKAGE_MAGIC: &[u8; 4] = b"RPP1";
/// Magic of a remote command.
pub const COMMAND_MAGIC: &[u8; 4] = b"RPC1";

fn context(magic: &[u8; 4]) -> &'static [u8] {
    if magic == COMMAND_MAGIC {
        b"rettpad/v1/command\0"
    } else {
        b"rettpad/v1/package\0"
    }
}

fn purpose(magic: &[u8; 4]) -> Purpose {
    if magic == COMMAND_MAGIC {
        Purpose::Commands
    } else {
        Purpose::Packages
    }
}

/// Frames and signs `payload`.
pub fn seal(magic: &[u8; 4], key: &SigningKey, payload: &[u8]) -> Result<Vec<u8>, ProvisionError> {
    let cert = key.cert();
    let len = |n: usize| u32::try_from(n).map_err(|_| ProvisionError::TooLarge(MAX_PACKAGE_BYTES));
    let mut out = Vec::with_capacity(12 + cert.len() + payload.len() + SIGNATURE_LEN);
    out.extend_from_slice(magic);
    out.extend_from_slice(&len(cert.len())?.to_be_bytes());
    out.extend_from_slice(cert);
    out.extend_from_slice(&len(payload.len())?.to_be_bytes());
    out.extend_from_slice(payload);
    if out.len() + SIGNATURE_LEN > MAX_PACKAGE_BYTES {
        return Err(ProvisionError::TooLarge(MAX_PACKAGE_BYTES));
    }
    let mut msg = context(magic).to_vec();
    msg.extend_from_slice(&out);
    out.extend_from_slice(&key.sign(&msg));
    Ok(out)
}

/// A verified object: the signing key's certificate and the payload.
#[derive(Debug)]
pub struct Opened<'a> {
    pub cert: KeyCert,
    pub payload: &'a [u8],
}

fn take<'a>(b: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], ProvisionError> {
    if b.len() < n {
        return Err(ProvisionError::Corrupt(format!("truncated in {what}")));
    }
    let (head, rest) = b.split_at(n);
    *b = rest;
    Ok(head)
}

fn take_len(b: &mut &[u8], what: &str) -> Result<usize, ProvisionError> {
    let raw = take(b, 4, what)?;
    let n = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    Ok(n as usize)
}

/// Verifies the framing, the certificate against `trust` and the signature;
/// only then is the payload handed out.
pub fn open<'a>(
    magic: &[u8; 4],
    bytes: &'a [u8],
    trust: &Trust,
    now_ms: i64,
) -> Result<Opened<'a>, ProvisionError> {
    if bytes.len() > MAX_PACKAGE_BYTES {
        return Err(ProvisionError::TooLarge(MAX_PACKAGE_BYTES));
    }
    let mut b = bytes;
    let m = take(&mut b, 4, "magic")?;
    if m != magic {
        return Err(ProvisionError::Corrupt(
            "not a rettpad signed object of this kind".into(),
        ));
    }
    let cert_len = take_len(&mut b, "certificate length")?;
    let cert = take(&mut b, cert_len, "certificate")?;
    let payload_len = take_len(&mut b, "payload length")?;
    let payload = take(&mut b, payload_len, "payload")?;
    let sig = take(&mut b, SIGNATURE_LEN, "signature")?;
    if !b.is_empty() {
        return Err(ProvisionError::Corrupt("bytes after the signature".into()));
    }
    let (cert, pk) = trust.check_cert(cert, purpose(magic), now_ms)?;
    let signed_len = bytes.len() - SIGNATURE_LEN;
    let mut msg = context(magic).to_vec();
    msg.extend_from_slice(&bytes[..signed_len]);
    UnparsedPublicKey::new(&ED25519, pk)
        .verify(&msg, sig)
        .map_err(|_| ProvisionError::BadSignature)?;
    Ok(Opened { cert, payload })
}
