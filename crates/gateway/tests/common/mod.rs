//! Shared by the end-to-end tests: a PKI from `rettpad-gateway init` and a
//! real gateway process.
#![allow(dead_code)]

pub mod backoffice;
pub mod els;
pub mod fleet;
pub mod webdriver;

use rettpad_gateway::GatewayConfig;
use rettpad_pad::config::Config;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const GW: &str = env!("CARGO_BIN_EXE_rettpad-gateway");
pub const SERIAL: &str = "DEMO-PAD-0001";
pub const CALL_SIGN: &str = "RTW 1/83-1";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A PKI + configs from `rettpad-gateway init`.
pub struct Pki {
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub port: u16,
}

impl Pki {
    pub fn new() -> Pki {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let port = free_port();
        let out = Command::new(GW)
            .args(["init", "--dir"])
            .arg(&dir)
            .args(["--port", &port.to_string(), "--hospital-port", "0"])
            .output()
            .expect("run init");
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Pki {
            dir: dir.canonicalize().unwrap(),
            _tmp: tmp,
            port,
        }
    }

    pub fn pad_config(&self) -> Config {
        Config::load(&self.dir.join(format!("pad-{SERIAL}.toml"))).unwrap()
    }

    pub fn gateway_config(&self) -> GatewayConfig {
        GatewayConfig::load(&self.dir.join("gateway.toml")).unwrap()
    }
}

/// A running gateway process, killed on drop.
pub struct Gw {
    pub child: Child,
    pub hospitals: SocketAddr,
    pub dispatch: Option<SocketAddr>,
    pub backoffice: Option<SocketAddr>,
}

impl Gw {
    pub fn start(pki: &Pki) -> Gw {
        Gw::start_config(&pki.dir.join("gateway.toml"))
    }

    /// A gateway with the configuration file `config`.
    pub fn start_config(config: &std::path::Path) -> Gw {
        let mut child = Command::new(GW)
            .args(["serve", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn gateway");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("gateway did not get ready");
        let hosp = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("hospitals="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
        let dispatch = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("dispatch="))
            .and_then(|a| a.parse().ok());
        let backoffice = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("backoffice="))
            .and_then(|a| a.parse().ok());
        Gw {
            child,
            hospitals: hosp,
            dispatch,
            backoffice,
        }
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pad's vault in `dir` (data in `data/`, key in `keys/device.key`),
/// shared the way the pad's workers share it.
pub fn shared_store(dir: &std::path::Path) -> rettpad_vault::store::SharedStore {
    use rettpad_vault::store::{SharedStore, Store, StoreOptions};
    let keys = std::sync::Arc::new(rettpad_vault::FileKeyProvider::new(
        dir.join("keys").join("device.key"),
    ));
    let clock: rettpad_clock::SharedClock = rettpad_clock::SystemClock::shared();
    SharedStore::new(Store::open(&dir.join("data"), keys, clock, StoreOptions::default()).unwrap())
}

/// The channel link of pad `serial` from its `pad-<serial>.toml`.
pub fn channel_link(
    pki: &Pki,
    serial: &str,
    call_sign: &str,
    read_timeout: Duration,
) -> rettpad_transfer::channel_link::ChannelLink {
    let cfg = Config::load(&pki.dir.join(format!("pad-{serial}.toml"))).unwrap();
    let u = cfg.upload.unwrap();
    let tls = rettpad_transfer::client_tls(&u).unwrap();
    rettpad_transfer::channel_link::ChannelLink::new(
        &u.gateway_url,
        tls,
        serial,
        call_sign,
        read_timeout,
    )
    .unwrap()
}
