//! The gateway's logic without sockets: registry check, packet verification,
//! storage sealed at rest, signed receipts, mailboxes, the arrival board and
//! retention. The HTTP layer (`server`) only moves bytes in and out.

use super::config::{GatewayConfig, HospitalEntry, read_hex_file};
use super::store::{GatewayStore, GwStoreError, Inserted, NewPacket, SweepReport};
use rettpad_crypto::{self as crypto, SecretKey};
use rettpad_transfer::packet::{self, PART_EVENTS, PART_PRENOTICE, PacketError, PreNotice};
use rettpad_transfer::{HpkeSecretKey, Receipt, ReceiptSigner};
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
    #[error("the x-rettpad-serial header is required")]
    SerialMissing,
    #[error("device identity mismatch: {0}")]
    DeviceMismatch(&'static str),
    #[error("the packet's call sign is not the one registered for this pad")]
    CallSignMismatch,
    #[error("the packet names a hospital this gateway does not know ({0})")]
    UnknownHospital(&'static str),
    #[error("implausible creation time: {0}")]
    CreationTime(&'static str),
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
    /// Stable code for the pad (JSON `error`).
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::UnknownDevice { .. } => "unknown_device",
            IntakeError::SerialMissing => "serial_missing",
            IntakeError::DeviceMismatch(_) => "device_mismatch",
            IntakeError::CallSignMismatch => "call_sign_mismatch",
            IntakeError::UnknownHospital(_) => "unknown_hospital",
            IntakeError::CreationTime(_) => "bad_creation_time",
            IntakeError::Packet(PacketError::Checksum { .. }) => "checksum_mismatch",
            IntakeError::Packet(PacketError::TooLong { .. }) => "too_large",
            IntakeError::Packet(_) => "bad_packet",
            IntakeError::Conflict => "conflict",
            IntakeError::Store(_) | IntakeError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            IntakeError::UnknownDevice { .. }
            | IntakeError::SerialMissing
            | IntakeError::DeviceMismatch(_)
            | IntakeError::CallSignMismatch => 403,
            IntakeError::UnknownHospital(_) | IntakeError::CreationTime(_) => 422,
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
    /// The manifest's mission (its en-route pre-notice is now superseded).
    pub mission_id: Uuid,
    /// The documented mission times, for the dispatch centre's lookup and
    /// report (also for a repeat: a crash after storing the packet may
    /// have kept the first upload from recording them).
    pub times: Vec<rettpad_dispatch::report::DocumentedTime>,
}

pub struct Gateway {
    store: Arc<dyn GatewayStore>,
    hpke: HpkeSecretKey,
    signer: ReceiptSigner,
    storage_key: SecretKey,
    pads: HashMap<String, String>,
    /// serial → (organisation, station, vehicle type), for the archive.
    pad_meta: HashMap<String, (String, Option<String>, Option<String>)>,
    default_org: String,
    hospitals: HashMap<String, HospitalEntry>,
    mailbox_ms: i64,
    board_ms: i64,
    retention_ms: i64,
    max_skew_ms: i64,
    max_age_ms: i64,
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
            pad_meta: cfg
                .pads
                .iter()
                .map(|p| {
                    (
                        p.serial.clone(),
                        (
                            cfg.org_of(&p.serial),
                            p.station.clone(),
                            p.vehicle_type.clone(),
                        ),
                    )
                })
                .collect(),
            default_org: cfg.org_of(""),
            hospitals: cfg
                .hospitals
                .iter()
                .map(|h| (h.id.clone(), h.clone()))
                .collect(),
            mailbox_ms: i64::from(cfg.mailbox_hours) * HOUR_MS,
            board_ms: i64::from(cfg.board_hours) * HOUR_MS,
            retention_ms: i64::from(cfg.retention_days) * 24 * HOUR_MS,
            max_skew_ms: i64::try_from(cfg.limits.max_clock_skew_secs)
                .unwrap_or(i64::MAX / 2_000)
                .saturating_mul(1_000),
            max_age_ms: i64::from(cfg.limits.max_packet_age_days) * 24 * HOUR_MS,
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
        let storage_key = crate::keyring::secret_key(cfg, &cfg.storage_key)?;
        Ok(Gateway::new(cfg, store, hpke, signer, storage_key))
    }

    /// `(organisation, station, vehicle type)` of a pad, for the archive.
    pub fn pad_meta(&self, serial: &str) -> (String, Option<String>, Option<String>) {
        self.pad_meta
            .get(serial)
            .cloned()
            .unwrap_or_else(|| (self.default_org.clone(), None, None))
    }

    pub fn default_org(&self) -> &str {
        &self.default_org
    }

    /// Opens a verified packet's server payload with the gateway's key.
    pub fn open_server(&self, v: &packet::Verified<'_>) -> Result<packet::Parts, PacketError> {
        v.open_server(&self.hpke)
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

    /// The pad itself, before any body byte is read: registered with the
    /// certificate's call sign, and the login header names the
    /// certificate's serial (mandatory).
    pub fn authorize(
        &self,
        device: &Device,
        claimed_serial: Option<&str>,
    ) -> Result<(), IntakeError> {
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
        match claimed_serial {
            None => Err(IntakeError::SerialMissing),
            Some(s) if s != device.serial => Err(IntakeError::DeviceMismatch(
                "login serial differs from the certificate",
            )),
            Some(_) => Ok(()),
        }
    }

    /// Every identity field of the manifest against the authenticated pad:
    /// the serial and call sign are the certificate's (and the registry's),
    /// hospitals are known here, the creation time is plausible. What the
    /// board and the mailboxes show comes from these fields.
    fn bind_manifest(
        &self,
        device: &Device,
        m: &packet::Manifest,
        now_ms: i64,
    ) -> Result<(), IntakeError> {
        if m.device_serial != device.serial {
            return Err(IntakeError::DeviceMismatch(
                "packet serial differs from the certificate",
            ));
        }
        // `authorize` made the certificate's call sign the registry's.
        if m.call_sign != device.call_sign {
            return Err(IntakeError::CallSignMismatch);
        }
        if m.target_hospital
            .as_ref()
            .is_some_and(|h| !self.hospitals.contains_key(h))
        {
            return Err(IntakeError::UnknownHospital("target hospital"));
        }
        if m.envelopes
            .iter()
            .any(|e| !self.hospitals.contains_key(&e.hospital))
        {
            return Err(IntakeError::UnknownHospital("envelope recipient"));
        }
        if m.created_ms > now_ms.saturating_add(self.max_skew_ms) {
            return Err(IntakeError::CreationTime("in the future"));
        }
        if m.created_ms < now_ms.saturating_sub(self.max_age_ms) {
            return Err(IntakeError::CreationTime("older than the accepted age"));
        }
        Ok(())
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
        self.authorize(device, claimed_serial)?;
        let v = packet::verify(body)?;
        let m = &v.manifest;
        self.bind_manifest(device, m, now_ms)?;
        if let Some((sha, receipt)) = self.store.receipt(m.packet_id)? {
            return if sha == v.sha256 {
                Ok(Accepted {
                    receipt_json: receipt,
                    duplicate: true,
                    packet_id: m.packet_id,
                    mission_id: m.mission_id,
                    times: self.times(&v),
                })
            } else {
                Err(IntakeError::Conflict)
            };
        }
        let parts = v.open_server(&self.hpke)?;
        let times = parts
            .get(PART_EVENTS)
            .map(|e| rettpad_dispatch::report::documented_times(e, m.mission_id))
            .unwrap_or_default();
        let board = match (&m.target_hospital, parts.get(PART_PRENOTICE)) {
            (Some(h), Some(pn)) if self.hospitals.contains_key(h) => {
                // Validate before storing; the board never shows raw bytes.
                // serde's message may quote values: never into a log.
                let _: PreNotice = serde_json::from_slice(pn).map_err(|_| {
                    PacketError::Manifest("pre-notification does not decode".into())
                })?;
                let sealed =
                    crypto::seal(&self.storage_key, &at_rest_aad(b"board", &m.packet_id), pn)
                        .map_err(|e| IntakeError::Internal(e.to_string()))?;
                Some((h.clone(), sealed, now_ms + self.board_ms))
            }
            _ => None,
        };
        // The decrypted parts are checked; free them before the copies
        // for storage are made (peak memory ~3× the packet, not 4×).
        drop(parts);
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
        match self.store.insert(Arc::new(rec))? {
            Inserted::New => Ok(Accepted {
                receipt_json,
                duplicate: false,
                packet_id: m.packet_id,
                mission_id: m.mission_id,
                times,
            }),
            Inserted::Existing {
                sha256,
                receipt_json,
            } if sha256 == v.sha256 => Ok(Accepted {
                receipt_json,
                duplicate: true,
                packet_id: m.packet_id,
                mission_id: m.mission_id,
                times,
            }),
            Inserted::Existing { .. } => Err(IntakeError::Conflict),
        }
    }

    /// The documented times of a repeated packet (opened again).
    fn times(&self, v: &packet::Verified<'_>) -> Vec<rettpad_dispatch::report::DocumentedTime> {
        v.open_server(&self.hpke)
            .ok()
            .and_then(|p| {
                p.get(PART_EVENTS)
                    .map(|e| rettpad_dispatch::report::documented_times(e, v.manifest.mission_id))
            })
            .unwrap_or_default()
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
                .map_err(|_| IntakeError::Internal("board entry does not decode".into()))?;
            out.push(BoardEntry {
                packet_id: r.packet_id,
                hospital: r.hospital,
                call_sign: r.call_sign,
                created_ms: r.created_ms,
                expires_ms: r.expires_ms,
                en_route: false,
                ecg: false,
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
    /// The packet, or for a pre-notice en route the mission.
    pub packet_id: Uuid,
    /// Sent en route, before the protocol was closed.
    pub en_route: bool,
    /// A 12-lead ECG for the hospital came with it (en route only).
    pub ecg: bool,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Limits, PadEntry};
    use crate::store::SqliteStore;
    use rettpad_transfer::packet::{SealInput, seal_with_id};
    use rettpad_transfer::{HpkePublicKey, ReceiptKey};

    const DAY: i64 = 24 * HOUR_MS;
    const T0: i64 = 1_000 * DAY;

    fn cfg() -> GatewayConfig {
        GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            hospital_listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: "x".into(),
            ca: "x".into(),
            crls: vec![],
            cert: "x".into(),
            key: "x".into(),
            hpke_key: "x".into(),
            signing_key: "x".into(),
            storage_key: "x".into(),
            retention_days: 92,
            sweep_interval_secs: 3600,
            mailbox_hours: 24,
            board_hours: 3,
            tls12: true,
            pads: vec![PadEntry {
                serial: "SN-1".into(),
                call_sign: "RTW 1".into(),
                centre: None,
                station: None,
                vehicle_type: None,
                org: None,
            }],
            hospitals: vec![HospitalEntry {
                id: "h1".into(),
                name: "Klinik".into(),
                token_sha256: hex::encode(crypto::sha256(b"tok")),
            }],
            dispatch_listen: None,
            centres: vec![],
            channel: Default::default(),
            debug_reply_delay_ms: 0,
            limits: crate::config::Limits::default(),
            fleet: None,
            archive: Default::default(),
            backoffice: None,
            backup: None,
            keys: None,
        }
    }

    fn input(pdf: &[u8]) -> SealInput {
        SealInput {
            mission_id: Uuid::now_v7(),
            device_serial: "SN-1".into(),
            call_sign: "RTW 1".into(),
            created_ms: T0,
            target_hospital: Some("h1".into()),
            events_json: b"[]".to_vec(),
            mind_xml: b"<x/>".to_vec(),
            fhir_json: b"{}".to_vec(),
            pdf: pdf.to_vec(),
            pdf_sha256: crypto::sha256(pdf),
            handover_summary: "s".into(),
            prenotice: Some(PreNotice {
                age_years: Some(50),
                sex: "w".into(),
                suspected_diagnosis: "Schlaganfall".into(),
                priority: "Stroke Unit".into(),
                eta_ms: None,
                pzc: None,
                vitals: String::new(),
            }),
        }
    }

    #[test]
    fn intake_dedup_conflict_mailbox_board_retention() {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(d.path()).unwrap());
        let (gsk, gpk) = HpkeSecretKey::generate().unwrap();
        let (hsk, hpk): (HpkeSecretKey, HpkePublicKey) = HpkeSecretKey::generate().unwrap();
        let (signer, _) = ReceiptSigner::generate().unwrap();
        let rk = ReceiptKey::from_hex(&signer.public_hex()).unwrap();
        let gw = Gateway::new(&cfg(), store, gsk, signer, SecretKey::generate().unwrap());
        let dev = Device {
            serial: "SN-1".into(),
            call_sign: "RTW 1".into(),
        };
        let id = Uuid::now_v7();
        let p = seal_with_id(&input(b"%PDF a"), &gpk, &[("h1".into(), hpk.clone())], id).unwrap();
        let t0 = T0;
        let a = gw.intake(&dev, Some("SN-1"), &p.bytes, t0).unwrap();
        assert!(!a.duplicate);
        let r = Receipt::from_json(&a.receipt_json).unwrap();
        r.verify(&rk, id, &p.sha256).unwrap();
        assert_eq!(gw.original(id).unwrap().unwrap(), p.bytes);
        // Repeat: identical receipt, even later.
        let b = gw.intake(&dev, Some("SN-1"), &p.bytes, t0 + 5_000).unwrap();
        assert!(b.duplicate);
        assert_eq!(b.receipt_json, a.receipt_json);
        // Same id, other content: conflict.
        let q = seal_with_id(&input(b"%PDF b"), &gpk, &[], id).unwrap();
        assert_eq!(
            gw.intake(&dev, Some("SN-1"), &q.bytes, t0)
                .unwrap_err()
                .status(),
            409
        );
        // Unknown pad, wrong call sign, wrong login serial.
        let other = Device {
            serial: "SN-9".into(),
            call_sign: "RTW 1".into(),
        };
        assert_eq!(
            gw.intake(&other, Some("SN-9"), &p.bytes, t0)
                .unwrap_err()
                .status(),
            403
        );
        let cs = Device {
            serial: "SN-1".into(),
            call_sign: "NEF".into(),
        };
        assert_eq!(
            gw.intake(&cs, Some("SN-1"), &p.bytes, t0)
                .unwrap_err()
                .status(),
            403
        );
        assert_eq!(
            gw.intake(&dev, Some("SN-2"), &p.bytes, t0)
                .unwrap_err()
                .status(),
            403
        );
        // Sealed to another gateway key: refused before storing.
        let (_, other_gw) = HpkeSecretKey::generate().unwrap();
        let x = seal_with_id(&input(b"%PDF c"), &other_gw, &[], Uuid::now_v7()).unwrap();
        assert_eq!(
            gw.intake(&dev, Some("SN-1"), &x.bytes, t0)
                .unwrap_err()
                .status(),
            422
        );
        assert_eq!(gw.store().count().unwrap(), 1);

        // Mailbox for 24 h; the envelope opens with the hospital key only.
        let env = gw.envelope("h1", id, t0 + 23 * HOUR_MS).unwrap().unwrap();
        let e = rettpad_transfer::packet::parse_envelope(&env).unwrap();
        assert_eq!(e.open(&hsk).unwrap().pdf, b"%PDF a");
        assert!(gw.envelope("h1", id, t0 + 25 * HOUR_MS).unwrap().is_none());
        assert!(gw.check_token("h1", "tok") && !gw.check_token("h1", "x"));
        // Board for 3 h.
        assert_eq!(gw.board(Some("h1"), t0 + 2 * HOUR_MS).unwrap().len(), 1);
        assert!(gw.board(Some("h1"), t0 + 3 * HOUR_MS).unwrap().is_empty());
        // Retention: kept 92 days, gone after, once it is in the archive.
        assert_eq!(gw.sweep(t0 + 91 * DAY).unwrap().packets, 0);
        assert!(gw.original(id).unwrap().is_some());
        assert_eq!(gw.sweep(t0 + 93 * DAY).unwrap().packets, 0, "not filed yet");
        gw.store().archive_done(id).unwrap();
        assert_eq!(gw.sweep(t0 + 93 * DAY).unwrap().packets, 1);
        assert!(gw.original(id).unwrap().is_none());
    }

    /// Every identity class of the manifest, one field wrong at a time; each
    /// refusal stores nothing, and the untouched packet then goes through.
    #[test]
    fn identity_fields_are_bound_to_the_certificate() {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(d.path()).unwrap());
        let (gsk, gpk) = HpkeSecretKey::generate().unwrap();
        let (_, hpk) = HpkeSecretKey::generate().unwrap();
        let (signer, _) = ReceiptSigner::generate().unwrap();
        let gw = Gateway::new(&cfg(), store, gsk, signer, SecretKey::generate().unwrap());
        let dev = Device {
            serial: "SN-1".into(),
            call_sign: "RTW 1".into(),
        };
        let skew = Limits::default().max_clock_skew_secs as i64 * 1_000;
        let age = i64::from(Limits::default().max_packet_age_days) * DAY;
        let seal = |f: &dyn Fn(&mut SealInput), env: &str| {
            let mut i = input(b"%PDF x");
            f(&mut i);
            seal_with_id(&i, &gpk, &[(env.into(), hpk.clone())], Uuid::now_v7()).unwrap()
        };
        let refused: Vec<(&str, packet::Sealed, Option<&str>, &str)> = vec![
            (
                "no serial header",
                seal(&|_| {}, "h1"),
                None,
                "serial_missing",
            ),
            (
                "header names another serial",
                seal(&|_| {}, "h1"),
                Some("SN-2"),
                "device_mismatch",
            ),
            (
                "manifest names another serial",
                seal(&|i| i.device_serial = "SN-2".into(), "h1"),
                Some("SN-1"),
                "device_mismatch",
            ),
            (
                "another unit's call sign",
                seal(&|i| i.call_sign = "NEF 2".into(), "h1"),
                Some("SN-1"),
                "call_sign_mismatch",
            ),
            (
                "call sign differing in case only",
                seal(&|i| i.call_sign = "rtw 1".into(), "h1"),
                Some("SN-1"),
                "call_sign_mismatch",
            ),
            (
                "unknown target hospital",
                seal(&|i| i.target_hospital = Some("h9".into()), "h1"),
                Some("SN-1"),
                "unknown_hospital",
            ),
            (
                "envelope for an unknown hospital",
                seal(&|_| {}, "h9"),
                Some("SN-1"),
                "unknown_hospital",
            ),
            (
                "created beyond the clock skew",
                seal(&|i| i.created_ms = T0 + skew + 1, "h1"),
                Some("SN-1"),
                "bad_creation_time",
            ),
            (
                "created before the accepted age",
                seal(&|i| i.created_ms = T0 - age - 1, "h1"),
                Some("SN-1"),
                "bad_creation_time",
            ),
            (
                "created at a negative time",
                seal(&|i| i.created_ms = i64::MIN, "h1"),
                Some("SN-1"),
                "bad_creation_time",
            ),
        ];
        for (what, p, serial, code) in &refused {
            let e = gw.intake(&dev, *serial, &p.bytes, T0).unwrap_err();
            assert_eq!(e.code(), *code, "{what}: {e}");
            assert!(matches!(e.status(), 403 | 422), "{what}");
            assert_eq!(gw.store().count().unwrap(), 0, "{what}: stored");
        }
        // The bounds themselves are accepted, and so is no target at all.
        for ok in [
            seal(&|i| i.created_ms = T0 + skew, "h1"),
            seal(&|i| i.created_ms = T0 - age, "h1"),
            seal(&|i| i.target_hospital = None, "h1"),
        ] {
            gw.intake(&dev, Some("SN-1"), &ok.bytes, T0).unwrap();
        }
        assert_eq!(gw.store().count().unwrap(), 3);
        // The board shows the registered call sign, never another.
        assert!(
            gw.board(None, T0)
                .unwrap()
                .iter()
                .all(|e| e.call_sign == "RTW 1")
        );
    }
}
