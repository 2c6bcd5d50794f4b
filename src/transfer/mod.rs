//! Closing a mission and moving it to the gateway: the sealed packet
//! (manifest + server payload HPKE-sealed to the gateway + one HPKE envelope
//! per hospital), the gateway's signed receipt, the outbox state machine and
//! the uploader (mTLS over rustls, BSI TR-02102-2 settings).
//!
//! - [`packet`] — sans-IO format, `seal`, `verify`, `open`.
//! - [`receipt`] — Ed25519 receipts; the pad verifies before deleting.
//! - [`outbox`] — sans-IO queue state machine and the status-bar enum.
//! - [`keys`] — HPKE key pairs (P-256) as hex.

pub mod keys;
pub mod outbox;
pub mod packet;
pub mod receipt;
pub mod uploader;

pub use keys::{HpkePublicKey, HpkeSecretKey, KeyError};
pub use outbox::{Entry, EntryState, FailReason, OutboxStatus};
pub use packet::{Manifest, PacketError, PreNotice, SealInput, Sealed};
pub use receipt::{Receipt, ReceiptError, ReceiptKey, ReceiptSigner};

use crate::config::UploadConfig;
use crate::record::MissionId;
use crate::vault::store::Store;
use std::collections::BTreeMap;
use uploader::OutboxPersist;

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

#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error("mission is not closed")]
    NotClosed,
    #[error("unknown mission")]
    UnknownMission,
    #[error(transparent)]
    Packet(#[from] PacketError),
    #[error("outbox: {0}")]
    Store(String),
}

impl CloseError {
    pub fn text_de(&self) -> &'static str {
        match self {
            CloseError::NotClosed => "Einsatz ist noch nicht abgeschlossen.",
            CloseError::UnknownMission => "Einsatz nicht gefunden.",
            CloseError::Packet(e) => e.text_de(),
            CloseError::Store(_) => {
                "Übertragung konnte nicht vorgemerkt werden. Daten bleiben auf dem Gerät; bitte erneut versuchen."
            }
        }
    }
}

/// Seals a closed mission and puts it into the vault's outbox (durable when
/// this returns). Idempotent per mission: a second call returns the entry
/// already queued. The mission itself is deleted only by the uploader,
/// after the gateway's verified receipt. Envelopes go to the target
/// hospital if its key is configured.
pub fn close_and_queue(
    store: &mut Store,
    mission: MissionId,
    input: SealInput,
    keys: &SealKeys,
    now_ms: i64,
) -> Result<Entry, CloseError> {
    let state = store.state(mission).ok_or(CloseError::UnknownMission)?;
    if state.status != crate::record::Status::Closed {
        return Err(CloseError::NotClosed);
    }
    if let Some(e) = store
        .outbox_entries()
        .map_err(CloseError::Store)?
        .into_iter()
        .find(|e| e.mission_id == mission.0)
    {
        return Ok(e);
    }
    let recipients: Vec<(String, HpkePublicKey)> = input
        .target_hospital
        .iter()
        .filter_map(|h| keys.hospitals.get(h).map(|k| (h.clone(), k.clone())))
        .collect();
    if input.target_hospital.is_some() && recipients.is_empty() {
        tracing::warn!(mission = %mission, "no HPKE key for the target hospital; no envelope");
    }
    let sealed = packet::seal(&input, &keys.gateway, &recipients)?;
    let entry = Entry::new(sealed.packet_id, mission.0, sealed.sha256, now_ms);
    store
        .outbox_put(&entry, Some(&sealed.bytes))
        .map_err(CloseError::Store)?;
    tracing::info!(mission = %mission, packet = %sealed.packet_id, bytes = sealed.bytes.len(), "mission queued for upload");
    Ok(entry)
}

/// The rustls client configuration of `[upload]`: the device certificate
/// as identity, the organisation CA as the only trust anchor, BSI suites.
pub fn client_tls(u: &UploadConfig) -> Result<rustls::ClientConfig, String> {
    let id = crate::pki::Identity::load(&u.cert, &u.key).map_err(|e| e.to_string())?;
    let trust = crate::pki::Trust::load(&u.ca, &u.crls).map_err(|e| e.to_string())?;
    let v = if u.tls13_only {
        crate::pki::Versions::Tls13Only
    } else {
        crate::pki::Versions::Tls12And13
    };
    crate::pki::client_config(&id, &trust, v).map_err(|e| e.to_string())
}

/// An uploader for `[upload]`. `serial` is the hardware serial
/// (`hwserial`), sent in the login header; the gateway checks it against
/// the certificate.
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
