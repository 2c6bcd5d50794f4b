//! The fleet around a real gateway: `rettpad-gateway provision …` as the
//! operator runs it, and a real pad core (`rettpad_pad::Pad` with its
//! uploader and channel over mTLS) enrolled with the organisation's root.

use super::{GW, Pki, shared_store};
use rettpad_pad::{Pad, PadEvent};
use rettpad_provision::Trust;
use rettpad_vault::store::SharedStore;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const ORG: &str = "rd-musterstadt";

/// `rettpad-gateway provision ARGS --config <pki>/gateway.toml`.
pub fn provision(pki: &Pki, args: &[&str]) -> Output {
    Command::new(GW)
        .arg("provision")
        .args(args)
        .arg("--config")
        .arg(pki.dir.join("gateway.toml"))
        .output()
        .expect("run provision")
}

/// Like [`provision`], and it must succeed; its stdout.
pub fn provision_ok(pki: &Pki, args: &[&str]) -> String {
    let out = provision(pki, args);
    assert!(
        out.status.success(),
        "provision {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `provision keys` for ORG; the pad's enrollment from what it printed.
pub fn keys(pki: &Pki) -> Trust {
    let out = provision_ok(pki, &["keys", "--org", ORG]);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = \"")))
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .to_string()
    };
    Trust {
        org: field("org"),
        root_key: field("root_key"),
    }
}

/// A short keep-alive, so rows the command line writes reach a
/// connected pad within a second.
pub fn fast_channel(pki: &Pki) {
    let mut c = pki.gateway_config();
    c.channel.keepalive_secs = 1;
    std::fs::write(pki.dir.join("gateway.toml"), c.to_toml()).unwrap();
}

/// `provision status --json`, the row of `serial`.
pub fn status_row(pki: &Pki, serial: &str) -> serde_json::Value {
    let out = provision_ok(pki, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|r| r["serial"] == serial)
        .cloned()
        .unwrap_or_else(|| panic!("no row for {serial}: {out}"))
}

/// Polls `provision status --json` until `ok` holds for the row of `serial`.
pub fn wait_status(
    pki: &Pki,
    serial: &str,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let r = status_row(pki, serial);
        if ok(&r) {
            return r;
        }
        assert!(Instant::now() < until, "status never showed {what}: {r:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A directory of part files.
pub fn parts_dir(root: &Path, files: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(format!("parts-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

/// A hospitals part with the demo PKI's Klinikum Mitte under `name`.
pub fn hospitals_toml(pki: &Pki, name: &str) -> String {
    let key = std::fs::read_to_string(pki.dir.join("hospital-klinikum-mitte.pub")).unwrap();
    format!(
        "[[hospitals]]\nid = \"klinikum-mitte\"\nname = \"{name}\"\nik = \"260100012\"\nhpke_public_key = \"{}\"\nprinter = \"ipp://127.0.0.1:631/printers/zna\"\n",
        key.trim()
    )
}

/// The demo pad SERIAL as the app runs it: its configuration from
/// `init` enrolled with `trust`, a vault on disk (device key in a file),
/// the uploader and the channel to the gateway.
pub struct FleetPad {
    pub pad: Pad,
    pub store: SharedStore,
    pub dir: tempfile::TempDir,
}

impl FleetPad {
    pub fn start(pki: &Pki, trust: &Trust) -> FleetPad {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = pki.pad_config();
        cfg.fleet = Some(trust.clone());
        let store = shared_store(dir.path());
        let clock = rettpad_clock::SystemClock::shared();
        let (eff, _) = rettpad_pad::fleet::load(&cfg, &store);
        let session = rettpad_pad::session::Session::new(
            eff.session_config().unwrap(),
            clock.clone(),
            store.clone(),
            store.clone(),
        )
        .unwrap();
        let upload = cfg.upload.clone().unwrap();
        let mut pad = Pad::new(cfg, clock, store.clone(), session);
        pad.attach_upload(&upload, Vec::new()).unwrap();
        FleetPad { pad, store, dir }
    }

    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("keys").join("device.key")
    }

    /// Ticks the pad until an event `pick` takes; other fleet events are
    /// a test failure (they would hide a wrong outcome).
    pub fn wait<T>(&mut self, what: &str, pick: impl Fn(&PadEvent) -> Option<T>) -> T {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            for e in self.pad.tick() {
                if let Some(t) = pick(&e) {
                    return t;
                }
                match e {
                    PadEvent::ChannelRefused(n) => panic!("channel refused: {n:?}"),
                    PadEvent::Locked | PadEvent::Dispatched(_) => {}
                    other => panic!("waiting for {what}, got {other:?}"),
                }
            }
            assert!(Instant::now() < until, "no {what} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The gateway's tables, opened beside the running gateway (as the
/// command line does).
pub fn dispatcher(pki: &Pki) -> rettpad_gateway::dispatch::Dispatcher {
    let cfg = pki.gateway_config();
    let key = rettpad_gateway::config::read_hex_file(&cfg.storage_key).unwrap();
    rettpad_gateway::dispatch::Dispatcher::open(
        &cfg,
        rettpad_crypto::SecretKey::from_slice(&key).unwrap(),
    )
    .unwrap()
}

pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}
