//! `rettpad-gateway init --dir D`: a test/demo PKI and matching
//! configurations. Never for production keys (they are written unencrypted).
//!
//! Writes: `ca.pem`, `gateway.pem/.key`, one `pad-<serial>.pem/.key` per
//! pad, a foreign CA with a pad certificate (`foreign-pad.pem/.key`, for
//! refusal tests), `gateway-hpke.key/.pub`, `gateway-sign.key/.pub`,
//! `storage.key`, per hospital `hospital-<id>.key/.pub/.token`,
//! the demo centre's API token `centre-demo-ils.token`, `gateway.toml` and `pad-<serial>.toml` (pad configurations with an
//! `[upload]` section).

use super::config::{CentreEntry, ChannelLimits, GatewayConfig, HospitalEntry, Limits, PadEntry};
use super::private::{self, Existing};
use rettpad_crypto::{SecretKey, sha256};
use rettpad_pki::issue::Ca;
use rettpad_transfer::UploadConfig;
use rettpad_transfer::{HpkeSecretKey, ReceiptSigner};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Pads of the demo PKI: `(serial, call sign)`. The first matches
/// `Config::demo()`.
pub const DEMO_PADS: &[(&str, &str)] = &[
    ("DEMO-PAD-0001", "RTW 1/83-1"),
    ("DEMO-PAD-0002", "NEF 1/82-1"),
];

/// The demo dispatch centre; its token is `centre-<id>.token`.
pub const DEMO_CENTRE: (&str, &str) = ("demo-ils", "Integrierte Leitstelle Demo");

/// Hospitals of the demo PKI: `(id, name)`.
pub const DEMO_HOSPITALS: &[(&str, &str)] = &[
    ("klinikum-mitte", "Klinikum Mitte, ZNA"),
    ("st-marien", "St.-Marien-Krankenhaus"),
    ("uni-herz", "Universitätsklinikum, Herzzentrum"),
];

#[derive(Debug, Clone)]
pub struct InitOptions {
    pub dir: PathBuf,
    pub listen: SocketAddr,
    pub hospital_listen: SocketAddr,
    /// Extra pads for load tests: `load/LOAD-<n>.pem/.key`, registered as
    /// serial `LOAD-<n>`, call sign `LOAD <n>`.
    pub load_pads: usize,
}

#[derive(Debug, Clone)]
pub struct InitReport {
    pub gateway_config: PathBuf,
    pub pad_configs: Vec<PathBuf>,
}

/// Keys and tokens are created 0600 from the start (`private::write`);
/// certificates, public keys and configurations are public.
fn write(dir: &Path, name: &str, data: &str) -> Result<PathBuf, String> {
    let p = dir.join(name);
    if name.ends_with(".key") || name.ends_with(".token") {
        private::write(&p, data.as_bytes())?;
    } else {
        std::fs::write(&p, data).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(p)
}

/// The part of a pad's configuration the gateway issues: its identity and
/// `[upload]`. Everything else has the pad's defaults.
#[derive(serde::Serialize)]
struct PadFile<'a> {
    device_serial: &'a str,
    call_sign: &'a str,
    upload: UploadConfig,
}

pub fn init(o: &InitOptions) -> Result<InitReport, String> {
    private::dir(&o.dir, Existing::Narrow)?;
    let dir = o
        .dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", o.dir.display()))?;
    let e = |e: rettpad_pki::PkiError| e.to_string();
    let ca = Ca::generate("rettpad Test-CA").map_err(e)?;
    let ca_pem = write(&dir, "ca.pem", &ca.cert_pem())?;
    let gw = ca.issue_server(&["localhost"]).map_err(e)?;
    write(&dir, "gateway.pem", &gw.cert_pem)?;
    write(&dir, "gateway.key", &gw.key_pem)?;
    let foreign = Ca::generate("Fremde CA").map_err(e)?;
    write(&dir, "foreign-ca.pem", &foreign.cert_pem())?;
    let fp = foreign
        .issue_pad(DEMO_PADS[0].0, DEMO_PADS[0].1)
        .map_err(e)?;
    write(&dir, "foreign-pad.pem", &fp.cert_pem)?;
    write(&dir, "foreign-pad.key", &fp.key_pem)?;

    let (gsk, gpk) = HpkeSecretKey::generate().map_err(|e| e.to_string())?;
    write(&dir, "gateway-hpke.key", &gsk.to_hex())?;
    write(&dir, "gateway-hpke.pub", &gpk.to_hex())?;
    let (signer, der) = ReceiptSigner::generate().map_err(|e| e.to_string())?;
    write(&dir, "gateway-sign.key", &hex::encode(der))?;
    write(&dir, "gateway-sign.pub", &signer.public_hex())?;
    let sk = SecretKey::generate().map_err(|e| e.to_string())?;
    write(&dir, "storage.key", &hex::encode(sk.expose()))?;
    let ak = SecretKey::generate().map_err(|e| e.to_string())?;
    write(&dir, "archive.key", &hex::encode(ak.expose()))?;
    let bk = SecretKey::generate().map_err(|e| e.to_string())?;
    write(&dir, "backup.key", &hex::encode(bk.expose()))?;

    let mut hospitals = Vec::new();
    let mut hospital_keys = BTreeMap::new();
    for (id, name) in DEMO_HOSPITALS {
        let (hsk, hpk) = HpkeSecretKey::generate().map_err(|e| e.to_string())?;
        write(&dir, &format!("hospital-{id}.key"), &hsk.to_hex())?;
        write(&dir, &format!("hospital-{id}.pub"), &hpk.to_hex())?;
        let token = SecretKey::generate().map_err(|e| e.to_string())?;
        let token = hex::encode(token.expose());
        write(&dir, &format!("hospital-{id}.token"), &token)?;
        hospitals.push(HospitalEntry {
            id: (*id).into(),
            name: (*name).into(),
            token_sha256: hex::encode(sha256(token.as_bytes())),
        });
        hospital_keys.insert((*id).to_string(), hpk.to_hex());
    }

    let token = SecretKey::generate().map_err(|e| e.to_string())?;
    let token = hex::encode(token.expose());
    write(&dir, &format!("centre-{}.token", DEMO_CENTRE.0), &token)?;
    let centres = vec![CentreEntry {
        id: DEMO_CENTRE.0.into(),
        name: DEMO_CENTRE.1.into(),
        token_sha256: hex::encode(sha256(token.as_bytes())),
        status_map: Default::default(),
        mqtt: None,
        report: None,
    }];

    let mut pads = Vec::new();
    let mut pad_configs = Vec::new();
    for (serial, call_sign) in DEMO_PADS {
        let p = ca.issue_pad(serial, call_sign).map_err(e)?;
        let cert = write(&dir, &format!("pad-{serial}.pem"), &p.cert_pem)?;
        let key = write(&dir, &format!("pad-{serial}.key"), &p.key_pem)?;
        pads.push(PadEntry {
            serial: (*serial).into(),
            call_sign: (*call_sign).into(),
            centre: Some(DEMO_CENTRE.0.into()),
            station: None,
            vehicle_type: None,
            org: None,
        });
        let pc = PadFile {
            device_serial: serial,
            call_sign,
            upload: UploadConfig {
                gateway_url: format!("https://127.0.0.1:{}", o.listen.port()),
                ca: ca_pem.clone(),
                crls: Vec::new(),
                cert,
                key,
                gateway_hpke_public: gpk.to_hex(),
                gateway_receipt_public: signer.public_hex(),
                hospital_keys: hospital_keys.clone(),
                tls13_only: false,
                provisioned_ca_pem: Vec::new(),
                provisioned_crl_pem: Vec::new(),
            },
        };
        let text = toml::to_string_pretty(&pc).map_err(|e| e.to_string())?;
        pad_configs.push(write(&dir, &format!("pad-{serial}.toml"), &text)?);
    }

    if o.load_pads > 0 {
        let load = dir.join("load");
        private::dir(&load, Existing::Narrow)?;
        for i in 0..o.load_pads {
            let (serial, call_sign) = (format!("LOAD-{i:05}"), format!("LOAD {i:05}"));
            let p = ca.issue_pad(&serial, &call_sign).map_err(e)?;
            write(&load, &format!("{serial}.pem"), &p.cert_pem)?;
            write(&load, &format!("{serial}.key"), &p.key_pem)?;
            pads.push(PadEntry {
                serial,
                call_sign,
                centre: Some(DEMO_CENTRE.0.into()),
                station: None,
                vehicle_type: None,
                org: None,
            });
        }
    }

    let cfg = GatewayConfig {
        listen: o.listen,
        hospital_listen: o.hospital_listen,
        data_dir: dir.join("gateway-data"),
        ca: ca_pem,
        crls: Vec::new(),
        cert: dir.join("gateway.pem"),
        key: dir.join("gateway.key"),
        hpke_key: dir.join("gateway-hpke.key"),
        signing_key: dir.join("gateway-sign.key"),
        storage_key: dir.join("storage.key"),
        retention_days: 92,
        sweep_interval_secs: 3600,
        mailbox_hours: 24,
        board_hours: 3,
        tls12: true,
        pads,
        hospitals,
        dispatch_listen: Some(SocketAddr::new(o.hospital_listen.ip(), 0)),
        centres,
        channel: ChannelLimits::default(),
        debug_reply_delay_ms: 0,
        limits: Limits::default(),
        fleet: None,
        archive: crate::config::ArchiveEntry {
            org: Some("demo".into()),
            master_key: Some(dir.join("archive.key")),
            ..Default::default()
        },
        backoffice: Some(crate::config::BackofficeEntry {
            listen: SocketAddr::new(o.hospital_listen.ip(), 0),
            password_profile: "seed".into(),
            secure_cookie: true,
            hash_memory_kib: 65_536,
            tls: None,
        }),
        backup: Some(crate::config::BackupEntry {
            dir: dir.join("backups"),
            key: dir.join("backup.key"),
            retention_days: 28,
            pg_bindir: None,
        }),
        keys: None,
    };
    let gateway_config = write(&dir, "gateway.toml", &cfg.to_toml())?;
    Ok(InitReport {
        gateway_config,
        pad_configs,
    })
}
