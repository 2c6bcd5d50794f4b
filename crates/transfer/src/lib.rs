//! Closing a mission and moving it to the gateway: the sealed packet
//! (manifest + server payload HPKE-sealed to the gateway + one HPKE envelope
//! per hospital), the gateway's signed receipt, the outbox state machine and
//! the uploader (mTLS over rustls, BSI TR-02102-2 settings).
//!
//! - [`packet`] — sans-IO format, `seal`, `verify`, `open`.
//! - [`receipt`] — Ed25519 receipts; the pad verifies before deleting.
//! - [`outbox`] — sans-IO queue state machine and the status-bar enum.
//! - [`keys`] — HPKE key pairs (P-256) as hex.

#[cfg(feature = "uploader")]
pub mod channel_link;
mod config;
pub mod ecg;
pub mod hwserial;
pub mod keys;
pub mod outbox;
pub mod packet;
pub mod pad_status;
pub mod receipt;
#[cfg(feature = "uploader")]
pub mod uploader;

pub use config::UploadConfig;
pub use keys::{HpkePublicKey, HpkeSecretKey, KeyError};
pub use outbox::{Entry, EntryState, FailReason, OutboxStatus};
pub use packet::{Manifest, PacketError, PreNotice, SealInput, Sealed};
pub use receipt::{Receipt, ReceiptError, ReceiptKey, ReceiptSigner};

use std::collections::BTreeMap;

/// The recipients' public keys, from `[upload]`.
#[derive(Debug, Clone)]
pub struct SealKeys {
    pub gateway: HpkePublicKey,
    pub hospitals: BTreeMap<String, HpkePublicKey>,
}

impl SealKeys {
    pub fn from_config(u: &UploadConfig) -> Result<SealKeys, KeyError> {
        let mut hospitals = BTreeMap::new();
        for (id, k) in &u.hospital_keys {
            hospitals.insert(id.clone(), HpkePublicKey::from_hex(k)?);
        }
        Ok(SealKeys {
            gateway: HpkePublicKey::from_hex(&u.gateway_hpke_public)?,
            hospitals,
        })
    }
}

/// The header with the pad's hardware serial; the gateway checks it
/// against the client certificate.
pub const SERIAL_HEADER: &str = "x-rettpad-serial";
/// The header with the call sign the pad is logged in with.
pub const CALL_SIGN_HEADER: &str = "x-rettpad-call-sign";

/// A call sign as a header value: visible ASCII and space stay, every
/// other byte (umlauts in "Rotkreuz München 71/1") and `%` are
/// percent-encoded, so the gateway compares exactly, not a lossy copy.
pub fn call_sign_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (b.is_ascii_graphic() && b != b'%') || b == b' ' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The rustls client configuration of `[upload]`: the device certificate
/// as identity, the organisation CA as the only trust anchor, BSI suites.
#[cfg(feature = "uploader")]
pub fn client_tls(u: &UploadConfig) -> Result<rustls::ClientConfig, String> {
    let id = rettpad_pki::Identity::load(&u.cert, &u.key).map_err(|e| e.to_string())?;
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    // The file's CA and CRLs, and what the operator provisioned beside them.
    let mut ca = read(&u.ca)?;
    ca.push(b'\n');
    ca.extend_from_slice(&u.provisioned_ca_pem);
    let mut crls = u
        .crls
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    crls.extend(u.provisioned_crl_pem.iter().cloned());
    let trust = rettpad_pki::Trust::from_pem(&ca, &crls).map_err(|e| e.to_string())?;
    let v = if u.tls13_only {
        rettpad_pki::Versions::Tls13Only
    } else {
        rettpad_pki::Versions::Tls12And13
    };
    rettpad_pki::client_config(&id, &trust, v).map_err(|e| e.to_string())
}

/// An uploader for `[upload]`. `serial` is the hardware serial
/// (`hwserial`), sent in the login header; the gateway checks it against
/// the certificate.
#[cfg(feature = "uploader")]
pub fn uploader_from_config(
    u: &UploadConfig,
    serial: &str,
    call_sign: &str,
) -> Result<uploader::Uploader, String> {
    let key = ReceiptKey::from_hex(&u.gateway_receipt_public).map_err(|e| e.to_string())?;
    uploader::Uploader::new(
        &u.gateway_url,
        client_tls(u)?,
        key,
        serial,
        call_sign,
        std::time::Duration::from_secs(30),
    )
}
