//! Files every accepted packet into the back office's archive. The intake
//! never waits for it: the packet and its queue row are committed with the
//! receipt, and this worker files from the stored originals (so a down
//! archive database delays filing, never an upload). A packet that cannot
//! be filed is reported in the archive and in the log and stays queued, so
//! the retention sweep keeps its original.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rettpad_backoffice::{Archive, ArchiveError, Db, Filed, Incoming};
use rettpad_transfer::packet;
use uuid::Uuid;

use crate::config::GatewayConfig;
use crate::intake::Gateway;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub filed: usize,
    pub already: usize,
    pub failed: usize,
    pub retry: usize,
}

/// Opens the archive named in the configuration (runs its migrations).
pub fn open_archive(cfg: &GatewayConfig) -> Result<Archive, String> {
    let key_file = cfg.archive.master_key.as_ref().unwrap_or(&cfg.storage_key);
    let master = crate::keyring::secret_key(cfg, key_file)?;
    let db = Db::open(&cfg.archive_url()).map_err(|e| format!("archive database: {e}"))?;
    let node = cfg.archive.node.clone().unwrap_or_else(|| "gateway".into());
    Ok(Archive::new(db, master, &node))
}

/// A stored packet, opened for filing.
struct Opened {
    id: Uuid,
    org: String,
    station: Option<String>,
    vehicle_type: Option<String>,
    mission_id: Uuid,
    device_serial: String,
    call_sign: String,
    received_ms: i64,
    sha256: String,
    pdf_sha256: String,
    receipt: String,
    parts: BTreeMap<String, Vec<u8>>,
}

impl Opened {
    fn incoming(&self) -> Incoming<'_> {
        Incoming {
            org: &self.org,
            packet_id: self.id,
            mission_id: self.mission_id,
            device_serial: &self.device_serial,
            call_sign: &self.call_sign,
            station: self.station.as_deref(),
            vehicle_type: self.vehicle_type.as_deref(),
            received_ms: self.received_ms,
            packet_sha256: &self.sha256,
            pdf_sha256: Some(&self.pdf_sha256),
            receipt_json: &self.receipt,
            parts: &self.parts,
        }
    }
}

fn open_stored(gw: &Gateway, id: Uuid) -> Result<Opened, ArchiveError> {
    let original = gw
        .original(id)
        .map_err(|e| ArchiveError::Corrupt(format!("stored original: {e}")))?
        .ok_or_else(|| ArchiveError::Content("the original is no longer stored".into()))?;
    let v = packet::verify(&original).map_err(|e| ArchiveError::Content(e.to_string()))?;
    let parts = gw
        .open_server(&v)
        .map_err(|e| ArchiveError::Content(e.to_string()))?;
    let m = &v.manifest;
    let (org, station, vehicle_type) = gw.pad_meta(&m.device_serial);
    let info = gw
        .store()
        .info(id)
        .map_err(|e| ArchiveError::Corrupt(e.to_string()))?
        .ok_or_else(|| ArchiveError::Content("no packet row".into()))?;
    let receipt = gw
        .store()
        .receipt(id)
        .map_err(|e| ArchiveError::Corrupt(e.to_string()))?
        .map(|(_, r)| String::from_utf8_lossy(&r).into_owned())
        .unwrap_or_default();
    Ok(Opened {
        id,
        org,
        station,
        vehicle_type,
        mission_id: m.mission_id,
        device_serial: m.device_serial.clone(),
        call_sign: m.call_sign.clone(),
        received_ms: info.received_ms,
        sha256: hex::encode(info.sha256),
        pdf_sha256: m.pdf_sha256.clone(),
        receipt,
        parts: parts.0.into_iter().collect(),
    })
}

/// Packets filed per transaction.
const BATCH: usize = 16;

/// Files what is due; returns what it did. Errors are logged without
/// content (packet id and reason only).
pub fn pass(gw: &Gateway, archive: &Archive, now_ms: i64) -> Pass {
    let mut p = Pass::default();
    let due = match gw.store().archive_due(now_ms, 256) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "archive queue unreadable");
            return p;
        }
    };
    for chunk in due.chunks(BATCH) {
        let mut results: Vec<(Uuid, Result<Filed, ArchiveError>)> = Vec::new();
        let mut opened = Vec::new();
        for id in chunk {
            match open_stored(gw, *id) {
                Ok(o) => opened.push(o),
                Err(e) => results.push((*id, Err(e))),
            }
        }
        let incs: Vec<Incoming<'_>> = opened.iter().map(Opened::incoming).collect();
        for (o, r) in opened.iter().zip(archive.file_all(&incs)) {
            results.push((o.id, r));
        }
        for (id, r) in results {
            settle(gw, archive, &mut p, id, r, now_ms);
        }
    }
    p
}

fn settle(
    gw: &Gateway,
    archive: &Archive,
    p: &mut Pass,
    id: Uuid,
    res: Result<Filed, ArchiveError>,
    now_ms: i64,
) {
    let store = gw.store();
    let r = match res {
        Ok(Filed::New) => {
            p.filed += 1;
            store.archive_done(id)
        }
        Ok(Filed::Already) => {
            p.already += 1;
            store.archive_done(id)
        }
        Err(e) if e.is_permanent() => {
            p.failed += 1;
            let reason = e.to_string();
            tracing::error!(packet = %id, reason = %reason, "packet cannot be filed in the archive; original kept");
            let org = gw
                .original(id)
                .ok()
                .flatten()
                .and_then(|o| packet::verify(&o).ok().map(|v| v.manifest.device_serial))
                .map(|s| gw.pad_meta(&s).0)
                .unwrap_or_else(|| gw.default_org().to_string());
            let received = store
                .info(id)
                .ok()
                .flatten()
                .map_or(now_ms, |i| i.received_ms);
            if let Err(e) = archive.report_issue(&org, id, received, &reason) {
                tracing::error!(packet = %id, error = %e, "cannot report the archive issue");
            }
            store.archive_failed(id, &reason)
        }
        Err(e) => {
            p.retry += 1;
            tracing::warn!(packet = %id, error = %e, "archive unavailable; will retry");
            store.archive_retry(id, now_ms + 30_000)
        }
    };
    if let Err(e) = r {
        tracing::error!(packet = %id, error = %e, "archive queue update failed");
    }
}

/// Runs passes until `stop` is set: every `every` or sooner when woken.
/// The database is opened (and reopened after a failed start) here, so a
/// down archive never keeps the gateway from taking packets.
pub fn run(
    cfg: GatewayConfig,
    gw: Arc<Gateway>,
    stop: Arc<AtomicBool>,
    every: Duration,
    now_ms: fn() -> i64,
) {
    let mut archive = None;
    while !stop.load(Ordering::SeqCst) {
        if archive.is_none() {
            match open_archive(&cfg) {
                Ok(a) => archive = Some(a),
                Err(e) => tracing::error!(error = %e, "archive cannot be opened; packets wait"),
            }
        }
        if let Some(a) = &archive {
            let r = pass(&gw, a, now_ms());
            if r.filed + r.failed > 0 {
                tracing::info!(filed = r.filed, failed = r.failed, "archive pass");
            }
            if r.filed + r.already == 256 {
                continue;
            }
        }
        std::thread::park_timeout(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HospitalEntry, PadEntry};
    use crate::intake::Device;
    use crate::store::SqliteStore;
    use rettpad_backoffice::Scope;
    use rettpad_transfer::packet::{SealInput, seal_with_id};
    use rettpad_transfer::{HpkeSecretKey, ReceiptSigner};

    fn cfg(dir: &std::path::Path, url: String) -> GatewayConfig {
        let mut c: GatewayConfig = toml::from_str(&format!(
            "listen = \"127.0.0.1:0\"\nhospital_listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n\
             ca = \"x\"\ncert = \"x\"\nkey = \"x\"\nhpke_key = \"x\"\nsigning_key = \"x\"\n\
             storage_key = \"{}\"\n",
            dir.display(),
            dir.join("storage.key").display()
        ))
        .unwrap();
        c.pads.push(PadEntry {
            serial: "SN-1".into(),
            call_sign: "RTW 1".into(),
            centre: None,
            station: Some("wache-nord".into()),
            vehicle_type: Some("RTW".into()),
            org: Some("org-x".into()),
        });
        c.hospitals.push(HospitalEntry {
            id: "h1".into(),
            name: "Klinik".into(),
            token_sha256: "00".repeat(32),
        });
        c.archive.url = Some(url);
        c
    }

    fn input(events_json: Vec<u8>, mission_id: Uuid) -> SealInput {
        SealInput {
            mission_id,
            device_serial: "SN-1".into(),
            call_sign: "RTW 1".into(),
            created_ms: now(),
            target_hospital: None,
            events_json,
            mind_xml: b"<x/>".to_vec(),
            fhir_json: b"{}".to_vec(),
            pdf: b"%PDF-1.7".to_vec(),
            pdf_sha256: rettpad_crypto::sha256(b"%PDF-1.7"),
            handover_summary: "s".into(),
            prenotice: None,
        }
    }

    fn now() -> i64 {
        crate::fleet_cli::now_ms()
    }

    /// On SQLite and on a real PostgreSQL: a good packet is filed under its
    /// pad's organisation and station; one whose event log cannot be read
    /// is accepted (the pad holds a receipt), reported, and its original
    /// outlives the retention sweep.
    #[test]
    fn files_accepted_packets_and_keeps_what_cannot_be_filed() {
        let d = tempfile::tempdir().unwrap();
        let urls = [
            format!("sqlite:{}", d.path().join("archive.sqlite").display()),
            rettpad_sim::postgres::TempCluster::fresh_database().unwrap(),
        ];
        for url in urls {
            let dir = tempfile::tempdir().unwrap();
            let sk = rettpad_crypto::SecretKey::generate().unwrap();
            std::fs::write(dir.path().join("storage.key"), hex::encode(sk.expose())).unwrap();
            let c = cfg(dir.path(), url);
            let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
            let (gsk, gpk) = HpkeSecretKey::generate().unwrap();
            let (signer, _) = ReceiptSigner::generate().unwrap();
            let gw = Gateway::new(&c, store, gsk, signer, sk);
            let dev = Device {
                serial: "SN-1".into(),
                call_sign: "RTW 1".into(),
            };
            let s = rettpad_sim::sample::standard();
            let good = seal_with_id(
                &input(serde_json::to_vec(&s.events).unwrap(), s.mission().0),
                &gpk,
                &[],
                Uuid::now_v7(),
            )
            .unwrap();
            let bad = seal_with_id(
                &input(b"[]".to_vec(), Uuid::now_v7()),
                &gpk,
                &[],
                Uuid::now_v7(),
            )
            .unwrap();
            let t = now();
            let good_id = gw
                .intake(&dev, Some("SN-1"), &good.bytes, t)
                .unwrap()
                .packet_id;
            let bad_id = gw
                .intake(&dev, Some("SN-1"), &bad.bytes, t)
                .unwrap()
                .packet_id;

            let archive = open_archive(&c).unwrap();
            let r = pass(&gw, &archive, t);
            assert_eq!((r.filed, r.failed, r.retry), (1, 1, 0), "{r:?}");
            assert_eq!(pass(&gw, &archive, t), Pass::default(), "nothing due again");

            let scope = Scope::org("org-x");
            let list = archive.list(&scope, None, 10).unwrap();
            assert_eq!(list.len(), 1);
            assert_eq!(list[0].id, good_id);
            assert_eq!(list[0].station.as_deref(), Some("wache-nord"));
            assert!(
                archive
                    .list(&Scope::org("default"), None, 10)
                    .unwrap()
                    .is_empty()
            );
            let issues = archive.issues(&scope).unwrap();
            assert_eq!(issues.len(), 1);
            assert_eq!(issues[0].packet_id, bad_id);
            assert!(
                issues[0].reason.contains("no event"),
                "{}",
                issues[0].reason
            );
            assert_eq!(gw.store().archive_backlog().unwrap(), (0, 1));

            // A year later: the filed original goes, the unfiled one stays.
            let swept = gw.sweep(t + 400 * 86_400_000).unwrap();
            assert_eq!(swept.packets, 1);
            assert!(gw.original(bad_id).unwrap().is_some());
            assert!(gw.original(good_id).unwrap().is_none());
            // The archive still has the protocol.
            assert!(archive.medical(&scope, good_id).unwrap().is_some());
        }
    }
}
