//! A local gateway for the demo: `init` on first use, then `serve` on a
//! background thread with its own runtime, on loopback. The demo pad uploads
//! to it for real. Not linked into the pad's hot paths: the app calls
//! [`start`] once at demo start.

use super::config::GatewayConfig;
use super::init::{InitOptions, init};
use super::server::{Bound, serve};
use rettpad_transfer::UploadConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A running local gateway; stops on drop.
pub struct LocalGateway {
    pub dir: PathBuf,
    pub bound: Bound,
    /// The `[upload]` section for the demo pad (`DEMO-PAD-0001`).
    pub upload: UploadConfig,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LocalGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGateway")
            .field("dir", &self.dir)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

impl LocalGateway {
    /// The arrival board in a browser.
    pub fn board_url(&self) -> String {
        format!("http://{}/", self.bound.hospitals)
    }
}

impl Drop for LocalGateway {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Starts (and on first use creates) the gateway in `dir`. The pads' port
/// is fixed at creation; the board gets any free loopback port.
/// The `[upload]` section of the demo pad's configuration file.
#[derive(serde::Deserialize)]
struct PadUpload {
    upload: Option<UploadConfig>,
}

/// A demo directory from before dispatch gets the demo centre, so the
/// demo shows dispatch without a new PKI (the pad's outbox stays valid).
fn add_demo_centre(dir: &Path, cfg: &mut GatewayConfig) -> Result<(), String> {
    use super::config::CentreEntry;
    use super::init::DEMO_CENTRE;
    let token = hex::encode(
        rettpad_crypto::SecretKey::generate()
            .map_err(|e| e.to_string())?
            .expose(),
    );
    super::private::write(
        &dir.join(format!("centre-{}.token", DEMO_CENTRE.0)),
        token.as_bytes(),
    )?;
    cfg.centres.push(CentreEntry {
        id: DEMO_CENTRE.0.into(),
        name: DEMO_CENTRE.1.into(),
        token_sha256: hex::encode(rettpad_crypto::sha256(token.as_bytes())),
        status_map: Default::default(),
        mqtt: None,
        report: None,
    });
    for p in &mut cfg.pads {
        p.centre = Some(DEMO_CENTRE.0.into());
    }
    cfg.dispatch_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    Ok(())
}

pub fn start(dir: &Path) -> Result<LocalGateway, String> {
    let cfg_path = dir.join("gateway.toml");
    if !cfg_path.exists() {
        init(&InitOptions {
            dir: dir.to_path_buf(),
            listen: SocketAddr::from(([127, 0, 0, 1], free_port()?)),
            hospital_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            load_pads: 0,
        })?;
    }
    let mut cfg = GatewayConfig::load(&cfg_path).map_err(|e| e.to_string())?;
    if cfg.centres.is_empty() {
        add_demo_centre(dir, &mut cfg)?;
        std::fs::write(&cfg_path, cfg.to_toml())
            .map_err(|e| format!("{}: {e}", cfg_path.display()))?;
    }
    let pad_path = dir.join("pad-DEMO-PAD-0001.toml");
    let text =
        std::fs::read_to_string(&pad_path).map_err(|e| format!("{}: {e}", pad_path.display()))?;
    let pad: PadUpload =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", pad_path.display()))?;
    let upload = pad.upload.ok_or("demo pad configuration has no [upload]")?;
    let (ready_tx, ready_rx) = mpsc::channel::<Result<Bound, String>>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("local-gateway".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            let tx = ready_tx.clone();
            let res = rt.block_on(serve(
                cfg,
                move |b| {
                    let _ = tx.send(Ok(b));
                },
                async move {
                    let _ = stop_rx.await;
                },
            ));
            if let Err(e) = res {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| e.to_string())?;
    let bound = ready_rx
        .recv_timeout(Duration::from_secs(15))
        .map_err(|_| "local gateway did not start".to_string())??;
    Ok(LocalGateway {
        dir: dir.to_path_buf(),
        bound,
        upload,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// The demo organisation's staff list: the demo crew and two more.
const DEMO_STAFF: &str = r#"
[[staff]]
number = "4711"
name = "Anna Berger"
qualification = "notsan"

[[staff]]
number = "4712"
name = "Jonas Keller"
qualification = "rettsan"

[[staff]]
number = "4713"
name = "Dr. Lea Sommer"
qualification = "notarzt"

[[staff]]
number = "4714"
name = "Jörg Weiß"
qualification = "rettsan"
"#;

/// The demo's fleet: on first use the organisation's keys (as `provision
/// keys` makes them) and one package with the staff list for the demo pad,
/// queued on its channel, so the shift login offers the list. Returns the
/// trust the demo pad is enrolled with.
pub fn demo_fleet(dir: &Path) -> Result<rettpad_provision::Trust, String> {
    use super::{fleet, fleet_keys};
    use rettpad_provision::package::{PartName, Target};
    let cfg_path = dir.join("gateway.toml");
    let cfg = GatewayConfig::load(&cfg_path).map_err(|e| e.to_string())?;
    if let Some(f) = &cfg.fleet {
        return Ok(fleet::trust(f));
    }
    let now = super::server::now_ms();
    let created = fleet_keys::create(dir, "demo-rd", 365, now)?;
    let mut text =
        std::fs::read_to_string(&cfg_path).map_err(|e| format!("{}: {e}", cfg_path.display()))?;
    text.push_str(&fleet_keys::gateway_section(&created.trust));
    std::fs::write(&cfg_path, text).map_err(|e| format!("{}: {e}", cfg_path.display()))?;
    let cfg = GatewayConfig::load(&cfg_path).map_err(|e| e.to_string())?;
    let f = cfg.fleet.as_ref().ok_or("demo [fleet] not written")?;
    let key = fleet_keys::load_signing(f, rettpad_provision::Purpose::Packages, now)?;
    let storage = super::keyring::secret_key(&cfg, &cfg.storage_key)?;
    let d = super::dispatch::Dispatcher::open(&cfg, storage)?;
    let staff = rettpad_provision::parts::from_toml(PartName::Staff, DEMO_STAFF)
        .map_err(|e| e.to_string())?;
    let (bytes, header) = fleet::build(
        &d,
        f,
        &key,
        vec![(PartName::Staff, staff)],
        Target::All,
        None,
        now,
    )?;
    fleet::publish(&d, &bytes, &header, &["DEMO-PAD-0001".to_string()], now)?;
    Ok(created.trust)
}
