//! The gateway's logic without sockets: registry check, packet verification,
//! storage sealed at rest, signed receipts, mailboxes, the arrival board and
//! retention. The HTTP layer (`server`) only moves bytes in and out.

use super::config::{GatewayConfig, HospitalEntry, read_hex_file};
use super::store::{GatewayStore, GwStoreError, Inserted, NewPacket, SweepReport};
use crate::crypto::{self, SecretKey};
use crate::transfer::packet::{self, PART_PRENOTICE, PacketError, PreNotice};
use crate::transfer::{HpkeSecretKey, Receipt, ReceiptSigner};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

const HOUR_MS: i64 = 3_600_000;

/// The pad as identified by its client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub serial: String,
    pub call_sign: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("device {serial} is not registered")]
    UnknownDevice { serial: String },
    #[error("device identity mismatch: {0}")]
    DeviceMismatch(&'static str),
    #[error("packet refused: {0}")]
    Packet(#[from] PacketError),
    #[error("packet id already stored with a different hash")]
    Conflict,
    #[error("storage failed: {0}")]
    Store(#[from] GwStoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntakeError {
    /// HTTP status for the pad.
    pub fn status(&self) -> u16 {
        match self {
            IntakeError::UnknownDevice { .. } | IntakeError::DeviceMismatch(_) => 403,
            IntakeError::Packet(PacketError::TooLong { .. }) => 413,
            IntakeError::Packet(_) => 422,
            IntakeError::Conflict => 409,
            IntakeError::Store(_) | IntakeError::Internal(_) => 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub receipt_json: Vec<u8>,
    pub duplicate: bool,
    pub packet_id: Uuid,
}

pub struct Gateway {
    store: Arc<dyn GatewayStore>,
    hpke: HpkeSecretKey,
    signer: ReceiptSigner,
    storage_key: SecretKey,
    pads: HashMap<String, String>,
    hospitals: HashMap<String, HospitalEntry>,
    mailbox_ms: i64,
    board_ms: i64,
    retention_ms: i64,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("pads", &self.pads.len())
            .field("hospitals", &self.hospitals.len())
            .finish_non_exhaustive()
    }
}

fn at_rest_aad(kind: &[u8], id: &Uuid) -> Vec<u8> {
    let mut a = b"rettpad-gateway/v1/".to_vec();
    a.extend_from_slice(kind);
    a.push(0);
    a.extend_from_slice(id.as_bytes());
    a
}

impl Gateway {
    pub fn new(
        cfg: &GatewayConfig,
        store: Arc<dyn GatewayStore>,
        hpke: HpkeSecretKey,
        signer: ReceiptSigner,
        storage_key: SecretKey,
    ) -> Gateway {
        Gateway {
            store,
            hpke,
            signer,
            storage_key,
            pads: cfg
                .pads
                .iter()
                .map(|p| (p.serial.clone(), p.call_sign.clone()))
                .collect(),
            hospitals: cfg
                .hospitals
                .iter()
                .map(|h| (h.id.clone(), h.clone()))
                .collect(),
            mailbox_ms: i64::from(cfg.mailbox_hours) * HOUR_MS,
            board_ms: i64::from(cfg.board_hours) * HOUR_MS,
            retention_ms: i64::from(cfg.retention_days) * 24 * HOUR_MS,
        }
    }

    /// Loads the keys named in the configuration.
    pub fn from_config(
        cfg: &GatewayConfig,
        store: Arc<dyn GatewayStore>,
    ) -> Result<Gateway, String> {
        let hpke = std::fs::read_to_string(&cfg.hpke_key)
            .map_err(|e| format!("{}: {e}", cfg.hpke_key.display()))
            .and_then(|s| HpkeSecretKey::from_hex(&s).map_err(|e| e.to_string()))?;
        let signer = ReceiptSigner::from_pkcs8(&read_hex_file(&cfg.signing_key)?)
            .map_err(|e| e.to_string())?;
        let storage_key = SecretKey::from_slice(&read_hex_file(&cfg.storage_key)?)
            .ok_or("storage key must be 32 bytes")?;
        Ok(Gateway::new(cfg, store, hpke, signer, storage_key))
    }

    pub fn is_registered(&self, serial: &str, call_sign: &str) -> bool {
        self.pads.get(serial).is_some_and(|c| c == call_sign)
    }

    pub fn store(&self) -> &Arc<dyn GatewayStore> {
        &self.store
    }

    pub fn hospital(&self, id: &str) -> Option<&HospitalEntry> {
        self.hospitals.get(id)
    }

    pub fn hospitals(&self) -> impl Iterator<Item = &HospitalEntry> {
        self.hospitals.values()
    }

    /// Checks the device, verifies every checksum (trailer, ciphertexts and,
    /// after opening the server payload, every part), stores the original
    /// sealed at rest and returns the signed receipt. A repeat of a stored
    /// packet returns the first receipt unchanged.
    pub fn intake(
        &self,
        device: &Device,
        claimed_serial: Option<&str>,
        body: &[u8],
        now_ms: i64,
    ) -> Result<Accepted, IntakeError> {
        match self.pads.get(&device.serial) {
            None => {
                return Err(IntakeError::UnknownDevice {
                    serial: device.serial.clone(),
                });
            }
            Some(cs) if *cs != device.call_sign => {
                return Err(IntakeError::DeviceMismatch(
                    "certificate call sign differs from the registry",
                ));
            }
            Some(_) => {}
        }
        if claimed_serial.is_some_and(|s| s != device.serial) {
            return Err(IntakeError::DeviceMismatch(
                "login serial differs from the certificate",
            ));
        }
        let v = packet::verify(body)?;
        let m = &v.manifest;
        if m.device_serial != device.serial {
            return Err(IntakeError::DeviceMismatch(
                "packet serial differs from the certificate",
            ));
        }
        if let Some((sha, receipt)) = self.store.receipt(m.packet_id)? {
            return if sha == v.sha256 {
                Ok(Accepted {
                    receipt_json: receipt,
                    duplicate: true,
                    packet_id: m.packet_id,
                })
            } else {
                Err(IntakeError::Conflict)
            };
        }
        let parts = v.open_server(&self.hpke)?;
        let board = match (&m.target_hospital, parts.get(PART_PRENOTICE)) {
            (Some(h), Some(pn)) if self.hospitals.contains_key(h) => {
                // Validate before storing; the board never shows raw bytes.
                let _: PreNotice = serde_json::from_slice(pn)
                    .map_err(|e| PacketError::Manifest(format!("pre-notification: {e}")))?;
                let sealed =
                    crypto::seal(&self.storage_key, &at_rest_aad(b"board", &m.packet_id), pn)
                        .map_err(|e| IntakeError::Internal(e.to_string()))?;
                Some((h.clone(), sealed, now_ms + self.board_ms))
            }
            _ => None,
        };
        let sealed_original = crypto::seal(
            &self.storage_key,
            &at_rest_aad(b"packet", &m.packet_id),
            body,
        )
        .map_err(|e| IntakeError::Internal(e.to_string()))?;
        let receipt = self.signer.sign(m.packet_id, &v.sha256, now_ms);
        let receipt_json = receipt.to_json();
        let rec = NewPacket {
            packet_id: m.packet_id,
            sha256: v.sha256,
            device_serial: m.device_serial.clone(),
            call_sign: m.call_sign.clone(),
            received_ms: now_ms,
            pdf_sha256: m.pdf_sha256.clone(),
            target_hospital: m.target_hospital.clone(),
            size: body.len() as u64,
            sealed_original,
            receipt_json: receipt_json.clone(),
            mailboxes: v
                .envelopes
                .iter()
                .map(|(h, _)| h.clone())
                .filter(|h| self.hospitals.contains_key(h))
                .collect(),
            mailbox_expires_ms: now_ms + self.mailbox_ms,
            board,
        };
        match self.store.insert(&rec)? {
            Inserted::New => Ok(Accepted {
                receipt_json,
                duplicate: false,
                packet_id: m.packet_id,
            }),
            Inserted::Existing {
                sha256,
                receipt_json,
            } if sha256 == v.sha256 => Ok(Accepted {
                receipt_json,
                duplicate: true,
                packet_id: m.packet_id,
            }),
            Inserted::Existing { .. } => Err(IntakeError::Conflict),
        }
    }

    /// The stored original, decrypted from rest (exactly the bytes received).
    pub fn original(&self, packet_id: Uuid) -> Result<Option<Vec<u8>>, IntakeError> {
        let Some(sealed) = self.store.original(packet_id)? else {
            return Ok(None);
        };
        crypto::open(
            &self.storage_key,
            &at_rest_aad(b"packet", &packet_id),
            &sealed,
        )
        .map(Some)
        .map_err(|e| IntakeError::Internal(format!("stored packet: {e}")))
    }

    /// True when `token` belongs to `hospital` (constant-time on the hash).
    pub fn check_token(&self, hospital: &str, token: &str) -> bool {
        let Some(h) = self.hospitals.get(hospital) else {
            return false;
        };
        let got = hex::encode(crypto::sha256(token.as_bytes()));
        let want = h.token_sha256.to_ascii_lowercase();
        got.len() == want.len()
            && got
                .bytes()
                .zip(want.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// A hospital's envelope, while it is in the mailbox.
    pub fn envelope(
        &self,
        hospital: &str,
        packet_id: Uuid,
        now_ms: i64,
    ) -> Result<Option<Vec<u8>>, IntakeError> {
        if !self.store.in_mailbox(hospital, packet_id, now_ms)? {
            return Ok(None);
        }
        let Some(orig) = self.original(packet_id)? else {
            return Ok(None);
        };
        let v = packet::verify(&orig)?;
        Ok(v.envelope(hospital).map(<[u8]>::to_vec))
    }

    /// Unexpired pre-notifications, decrypted for the board.
    pub fn board(
        &self,
        hospital: Option<&str>,
        now_ms: i64,
    ) -> Result<Vec<BoardEntry>, IntakeError> {
        let rows = self.store.board(hospital, now_ms)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let pt = crypto::open(
                &self.storage_key,
                &at_rest_aad(b"board", &r.packet_id),
                &r.sealed,
            )
            .map_err(|e| IntakeError::Internal(format!("board entry: {e}")))?;
            let notice: PreNotice = serde_json::from_slice(&pt)
                .map_err(|e| IntakeError::Internal(format!("board entry: {e}")))?;
            out.push(BoardEntry {
                packet_id: r.packet_id,
                hospital: r.hospital,
                call_sign: r.call_sign,
                created_ms: r.created_ms,
                expires_ms: r.expires_ms,
                notice,
            });
        }
        Ok(out)
    }

    pub fn sweep(&self, now_ms: i64) -> Result<SweepReport, IntakeError> {
        Ok(self.store.sweep(now_ms, now_ms - self.retention_ms)?)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardEntry {
    pub packet_id: Uuid,
    pub hospital: String,
    pub call_sign: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub notice: PreNotice,
}

/// A receipt check helper for tests and tools.
pub fn parse_receipt(json: &[u8]) -> Option<Receipt> {
    Receipt::from_json(json).ok()
}
